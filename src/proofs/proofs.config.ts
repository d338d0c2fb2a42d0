import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defineFeatureConfig } from '../common/config/feature-config';
import { resolvePath } from '../common/config/values';
import { IntVariable, TextVariable } from '../common/config/variables';

export class ProofsVariables {
  @IntVariable(1, 600_000)
  PROOF_VERIFY_TIMEOUT_MS?: number;

  @IntVariable(1, 64)
  PROOF_WORKERS?: number;

  @IntVariable(1, 100_000)
  PROOF_MAX_QUEUED_PER_USER?: number;

  @IntVariable(1024, 256 * 1024 * 1024)
  CIRCUIT_WASM_MAX_BYTES?: number;

  @IntVariable(1024, 1024 * 1024 * 1024)
  CIRCUIT_ZKEY_MAX_BYTES?: number;

  @TextVariable({ maxLength: 4096 })
  CIRCUIT_STORAGE_DIR?: string;
}

export class ProofsConfig {
  /**
   * Longest a verification may wait for a thread, and longest it may run on one. Past either it is a 503,
   * never a verdict.
   */
  readonly verifyTimeoutMs!: number;
  /** Worker threads that run snarkjs (default: the cores). */
  readonly workers!: number;
  /** Verifications one user may have waiting for a thread; past it, that user gets 503. */
  readonly maxQueuedPerUser!: number;
  readonly maxWasmBytes!: number;
  readonly maxZkeyBytes!: number;
  /** Circuit witness generators and proving keys, stored by SHA-256. */
  readonly storageDir!: string;

  constructor(values: ProofsConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

const storageDir = (env: ProofsVariables, dataDir: string, cwd: string): string =>
  resolvePath(env.CIRCUIT_STORAGE_DIR ?? join(dataDir, 'circuits'), cwd);

export const proofsConfig = defineFeatureConfig({
  token: ProofsConfig,
  schema: ProofsVariables,
  directories: (env, { core, cwd }) => [
    {
      variable: 'CIRCUIT_STORAGE_DIR',
      path: storageDir(env, core.dataDir, cwd),
      write: true,
      isDefault: env.CIRCUIT_STORAGE_DIR === undefined,
    },
  ],
  build: (env, { core, cwd }) =>
    new ProofsConfig({
      verifyTimeoutMs: env.PROOF_VERIFY_TIMEOUT_MS ?? 10_000,
      workers: env.PROOF_WORKERS ?? availableParallelism(),
      maxQueuedPerUser: env.PROOF_MAX_QUEUED_PER_USER ?? 256,
      maxWasmBytes: env.CIRCUIT_WASM_MAX_BYTES ?? 8 * 1024 * 1024,
      maxZkeyBytes: env.CIRCUIT_ZKEY_MAX_BYTES ?? 32 * 1024 * 1024,
      storageDir: storageDir(env, core.dataDir, cwd),
    }),
});
