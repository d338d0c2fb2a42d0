import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defineFeatureConfig } from '../common/config/feature-config';
import { resolvePath, splitList } from '../common/config/values';
import { ChoiceVariable, IntVariable, TextVariable } from '../common/config/variables';

export const WASM_RUNTIMES = ['wasmer', 'v8'] as const;
export type WasmRuntimeName = (typeof WASM_RUNTIMES)[number];

export class WasmVariables {
  @TextVariable({ maxLength: 8192 })
  WASM_ALLOWED_ROOTS?: string;

  @IntVariable(1024, 1024 * 1024 * 1024)
  WASM_MAX_MODULE_BYTES?: number;

  @IntVariable(1, 3600)
  WASM_TIMEOUT_SECS?: number;

  @IntVariable(1, 4096)
  WASM_MAX_MEMORY_MB?: number;

  @IntVariable(1, 256)
  WASM_MAX_CONCURRENCY?: number;

  @IntVariable(1, 256)
  WASM_MAX_CONCURRENCY_PER_USER?: number;

  @IntVariable(1, 10_000)
  WASM_MAX_QUEUED_PER_USER?: number;

  @ChoiceVariable(WASM_RUNTIMES)
  WASM_DEFAULT_RUNTIME?: WasmRuntimeName;

  @IntVariable(1024, 64 * 1024 * 1024)
  WASM_MAX_OUTPUT_BYTES?: number;

  @IntVariable(1024 * 1024, Number.MAX_SAFE_INTEGER)
  WASM_MODULE_CACHE_BYTES?: number;

  @IntVariable(1024, Number.MAX_SAFE_INTEGER)
  MODULE_STORAGE_QUOTA_BYTES?: number;

  @IntVariable(1, 1_000_000)
  MODULE_STORAGE_QUOTA_COUNT?: number;
  @IntVariable(1, 1_000_000)
  WASM_MAX_FUNCTIONS?: number;

  // V8's own limits (kV8MaxWasmFunctionSize, kV8MaxWasmFunctionLocals): it refuses a module beyond them anyway.
  @IntVariable(1024, 7_654_321)
  WASM_MAX_FUNCTION_BYTES?: number;

  @IntVariable(1, 50_000)
  WASM_MAX_LOCALS?: number;

  @IntVariable(1, 100_000)
  WASM_MAX_NESTING_DEPTH?: number;

  @IntVariable(1, 100_000_000)
  WASM_MAX_LOOP_STATE?: number;
}

/** Structural limits on a module's code (why each matters: src/wasm/wasm-limits.ts). */
export interface StructuralLimits {
  /** Functions, imported and defined (WASM_MAX_FUNCTIONS). */
  maxFunctions: number;
  /** One function body's size in bytes (WASM_MAX_FUNCTION_BYTES). */
  maxFunctionBytes: number;
  /** Parameters plus declared locals of one function (WASM_MAX_LOCALS). */
  maxLocals: number;
  /** Blocks, loops, ifs and trys open at once in one function (WASM_MAX_NESTING_DEPTH). */
  maxNestingDepth: number;
  /** Sum over a function's loops of 1 + its locals + the operand-stack height there (WASM_MAX_LOOP_STATE). */
  maxLoopState: number;
}

/**
 * Far above what real modules use (PostgreSQL as WebAssembly: 14 k functions, 128 KB, 83 locals, depth 2 055,
 * loop state 8 k), far below what makes an engine allocate gigabytes (wasm-limits.ts).
 */
export const DEFAULT_STRUCTURAL_LIMITS: StructuralLimits = {
  maxFunctions: 100_000,
  maxFunctionBytes: 1024 * 1024,
  maxLocals: 50_000,
  maxNestingDepth: 4096,
  maxLoopState: 1_000_000,
};

/** The WebAssembly engine and its module store. */
export class WasmConfig {
  /** Directories modules are stored in (uploads go to the first) and read from. */
  readonly allowedRoots!: readonly string[];
  readonly maxModuleBytes!: number;
  readonly timeoutMs!: number;
  readonly maxMemoryBytes!: number;
  readonly maxConcurrency!: number;
  /** Runs one user may have going at once (≤ maxConcurrency), so others always find a slot soon. */
  readonly maxConcurrencyPerUser!: number;
  /** Runs one user may have waiting; past it, that user gets 503. */
  readonly maxQueuedPerUser!: number;
  readonly defaultRuntime!: WasmRuntimeName;
  readonly maxOutputBytes!: number;
  /** Checked at upload and before a run, off the event loop (see wasm-limits.ts). */
  readonly structure!: StructuralLimits;
  /**
   * Budget of each runtime's compiled-module cache, in bytes (compiled code is charged per module byte, see
   * V8Runtime), least recently used out first.
   */
  readonly moduleCacheBytes!: number;
  /** Module bytes one user may be charged for (modules they own or their live tasks run). */
  readonly moduleQuotaBytes!: number;
  /** Modules one user may be charged for. */
  readonly moduleQuotaCount!: number;

  constructor(values: WasmConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

/**
 * A per-user share set above the whole is refused, not cut down: the operator meant something else. The default
 * (half) always fits. A value outside its own range is said by the schema already.
 */
function perUserConcurrencyProblems(env: WasmVariables): string[] {
  const perUser = env.WASM_MAX_CONCURRENCY_PER_USER;
  const max = env.WASM_MAX_CONCURRENCY ?? availableParallelism();
  if (typeof perUser !== 'number' || typeof max !== 'number' || max < 1 || perUser <= max) return [];
  const unset = env.WASM_MAX_CONCURRENCY === undefined ? ` (unset: the number of cores, ${max})` : '';
  return [`WASM_MAX_CONCURRENCY_PER_USER: must be at most WASM_MAX_CONCURRENCY${unset}`];
}

/** Uploaded modules live with the rest of the service's data unless roots are named. */
const allowedRoots = (env: WasmVariables, dataDir: string, cwd: string): string[] =>
  splitList(env.WASM_ALLOWED_ROOTS ?? join(dataDir, 'wasm-modules')).map((path) => resolvePath(path, cwd));

export const wasmConfig = defineFeatureConfig({
  token: WasmConfig,
  schema: WasmVariables,
  check: (env) => [
    ...(env.WASM_ALLOWED_ROOTS !== undefined && splitList(env.WASM_ALLOWED_ROOTS).length === 0
      ? ['WASM_ALLOWED_ROOTS: must name at least one directory']
      : []),
    ...perUserConcurrencyProblems(env),
  ],
  // Uploads go to the first root; the others are only read.
  directories: (env, { core, cwd }) =>
    allowedRoots(env, core.dataDir, cwd).map((path, index) => ({
      variable: 'WASM_ALLOWED_ROOTS',
      path,
      write: index === 0,
      isDefault: env.WASM_ALLOWED_ROOTS === undefined,
    })),
  build: (env, { core, cwd }) => {
    const maxConcurrency = env.WASM_MAX_CONCURRENCY ?? availableParallelism();
    return new WasmConfig({
      allowedRoots: allowedRoots(env, core.dataDir, cwd),
      maxModuleBytes: env.WASM_MAX_MODULE_BYTES ?? 10 * 1024 * 1024,
      timeoutMs: (env.WASM_TIMEOUT_SECS ?? 30) * 1000,
      maxMemoryBytes: (env.WASM_MAX_MEMORY_MB ?? 256) * 1024 * 1024,
      maxConcurrency,
      // Half the slots by default: a second user finds one free however many runs the first has queued.
      maxConcurrencyPerUser: env.WASM_MAX_CONCURRENCY_PER_USER ?? Math.ceil(maxConcurrency / 2),
      maxQueuedPerUser: env.WASM_MAX_QUEUED_PER_USER ?? 16,
      // v8 by the benchmark in bench/wasm.ts (numbers in bench/README.md).
      defaultRuntime: env.WASM_DEFAULT_RUNTIME ?? 'v8',
      maxOutputBytes: env.WASM_MAX_OUTPUT_BYTES ?? 1024 * 1024,
      structure: {
        maxFunctions: env.WASM_MAX_FUNCTIONS ?? DEFAULT_STRUCTURAL_LIMITS.maxFunctions,
        maxFunctionBytes: env.WASM_MAX_FUNCTION_BYTES ?? DEFAULT_STRUCTURAL_LIMITS.maxFunctionBytes,
        maxLocals: env.WASM_MAX_LOCALS ?? DEFAULT_STRUCTURAL_LIMITS.maxLocals,
        maxNestingDepth: env.WASM_MAX_NESTING_DEPTH ?? DEFAULT_STRUCTURAL_LIMITS.maxNestingDepth,
        maxLoopState: env.WASM_MAX_LOOP_STATE ?? DEFAULT_STRUCTURAL_LIMITS.maxLoopState,
      },
      moduleCacheBytes: env.WASM_MODULE_CACHE_BYTES ?? 256 * 1024 * 1024,
      // 25 modules at the default WASM_MAX_MODULE_BYTES.
      moduleQuotaBytes: env.MODULE_STORAGE_QUOTA_BYTES ?? 256 * 1024 * 1024,
      moduleQuotaCount: env.MODULE_STORAGE_QUOTA_COUNT ?? 1000,
    });
  },
});
