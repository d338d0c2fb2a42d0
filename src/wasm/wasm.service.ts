import { Inject, Injectable, OnApplicationShutdown, Optional } from '@nestjs/common';
import { createHash, hash } from 'node:crypto';
import { FairLimiter, QueueRefusal } from '../common/concurrency/fair-limiter';
import { internalLane, Lane } from '../common/concurrency/fair-queue';
import { AppException } from '../common/errors/app.exception';
import { ConnectionDraining, shuttingDown } from '../common/http/connection-draining';
import { findDeepJsonViolation } from '../common/validation/deep-json';
import type { Outcome } from '../common/runs/run-outcomes';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { LruCache } from '../common/cache/lru-cache';
import { ModuleChecker } from './module-checker';
import { describeImport, ModuleStoreService } from './module-store.service';
import type { RunRequest } from './run-request';
import { CANCELLED, RuntimeResult, WasmRuntime } from './runtime';
import { capModule, InvalidModuleError } from './wasm-binary';
import { deferStart } from './wasm-start';
import { WasmConfig, WasmRuntimeName } from './wasm.config';

export const WASM_RUNTIMES_TOKEN = Symbol('vcp.wasmRuntimes');

export interface RunResult {
  exit_code: number | null;
  /** Parsed when stdout is JSON within the deep-JSON limits, else the text. */
  stdout: unknown;
  stderr: string;
  execution_time_ms: number;
  module_hash: string;
  inputs_hash: string;
  output_hash: string;
  runtime: WasmRuntimeName;
  outcome: Outcome;
}

// Calls waiting for a slot in total, per slot: beyond this the engine answers 503 instead of queueing without end.
const QUEUE_PER_SLOT = 64;
/** The lane of callers without a user (benches, engine tests): it is not held to a user's share of slots. */
export const ENGINE_LANE = internalLane('engine');

// One-shot crypto.hash (Node ≥ 20.12) is about twice as fast as a Hash object on small inputs; a call hashes
// three or four of them.
const sha256: (data: Uint8Array | string) => string =
  typeof hash === 'function'
    ? (data) => hash('sha256', data, 'hex')
    : (data) => createHash('sha256').update(data).digest('hex');

/**
 * The WASM engine's one entry point: takes a checked run request, picks a runtime, enforces the limits every
 * runtime shares (concurrency, memory cap by rewriting, timeout, output cap) and maps what happened to a
 * closed set of outcomes. Controllers are meant to be thin wrappers around `run`.
 */
@Injectable()
export class WasmService implements OnApplicationShutdown {
  private readonly limiter: FairLimiter;
  private readonly runtimes: Map<WasmRuntimeName, WasmRuntime>;
  /** Module hash → why it cannot run (or null when it can), so the binary is parsed once per module. */
  private readonly verdicts = new LruCache<string, string | null>({ maxEntries: 1024 });

  private readonly checker: ModuleChecker;
  private readonly ownChecker: ModuleChecker | null;

  constructor(
    private readonly config: WasmConfig,
    /** Absent where the engine runs without the service's store (the node agent runs bytes it downloaded). */
    @Inject(ModuleStoreService) private readonly store: ModuleStoreService | undefined,
    @Inject(WASM_RUNTIMES_TOKEN) runtimes: WasmRuntime[],
    /** Absent where the engine is built without the app (engine tests, the bench). */
    @Optional() private readonly metrics?: VcpMetrics,
    /** The app's shutdown: at its cutoff, runs still going are stopped and waiting ones refused (503). */
    @Optional() private readonly draining?: ConnectionDraining,
  ) {
    this.runtimes = new Map(runtimes.map((r) => [r.name, r]));
    // Without a store (the agent) the engine checks modules on its own check thread, closed with the engine.
    this.ownChecker = store ? null : new ModuleChecker(config);
    this.checker = store?.checker ?? this.ownChecker!;
    const slots = config.maxConcurrency;
    this.limiter = new FairLimiter({
      limit: slots,
      maxRunningPerUser: config.maxConcurrencyPerUser,
      maxQueuedPerLane: config.maxQueuedPerUser,
      maxQueued: slots * QUEUE_PER_SLOT,
      // Only for Retry-After until runs have been timed; runs are not refused for their expected wait.
      expectedRunMs: 1000,
    });
    draining?.cutoff.addEventListener('abort', () => this.limiter.close(), { once: true });
  }

  get stats(): { active: number; queued: number } {
    return { active: this.limiter.active, queued: this.limiter.queued };
  }

  /**
   * Runs a stored module: its row must exist and its file must hash to its id (read once, then verified).
   * `lane` is whose run it is (`userLane(userId)` from a route): runs wait for a slot fairly per lane.
   */
  async run(moduleId: string, request: RunRequest, lane: Lane): Promise<RunResult> {
    this.checkRuntime(request);
    if (!this.store) throw new Error('this engine has no module store: use runBytes');
    const bytes = await this.store.read(moduleId);
    return this.execute(bytes, moduleId, request, lane);
  }

  /** Runs bytes that are not (yet) in the store, e.g. for benchmarks; the same runtime checks apply. */
  async runBytes(bytes: Uint8Array, request: RunRequest, lane: Lane = ENGINE_LANE): Promise<RunResult> {
    this.checkRuntime(request);
    return this.execute(bytes, sha256(bytes), request, lane);
  }

  /** Ends the runtimes' threads; a run still under way ends as a trap. */
  async close(): Promise<void> {
    await Promise.all([...this.runtimes.values()].map((runtime) => runtime.close()));
    await this.ownChecker?.close();
  }

  /**
   * After the HTTP server has closed (Nest runs onModuleDestroy before it, while requests are still served):
   * a run in flight at SIGTERM finishes and is answered before its runtime goes.
   */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  private runtimeFor(request: RunRequest): WasmRuntime {
    const name = request.runtime ?? this.config.defaultRuntime;
    const runtime = this.runtimes.get(name);
    if (!runtime) throw AppException.validation([{ field: 'runtime', message: 'is not available' }]);
    return runtime;
  }

  /**
   * What the chosen runtime cannot do is refused before the module is read (the request's own fields were
   * checked by RunRequestPipe): 422 naming the field.
   */
  private checkRuntime(request: RunRequest): void {
    const runtime = request.deterministic ? this.runtimeFor(request) : null;
    if (runtime && !runtime.supportsDeterminism) {
      throw AppException.validation([
        { field: 'deterministic', message: `is not supported by the ${runtime.name} runtime; use v8` },
      ]);
    }
  }

  private async execute(
    bytes: Uint8Array,
    moduleHash: string,
    request: RunRequest,
    lane: Lane,
  ): Promise<RunResult> {
    const runtime = this.runtimeFor(request);
    const stdin = Buffer.from(JSON.stringify(request.inputs ?? null), 'utf8');
    const inputsHash = sha256(stdin);
    const args = request.args ?? [];
    const base = { module_hash: moduleHash, inputs_hash: inputsHash, runtime: runtime.name };
    const maxMemoryBytes = Math.min(request.limits?.maxMemoryBytes ?? Infinity, this.config.maxMemoryBytes);
    const maxOutputBytes = Math.min(request.limits?.maxOutputBytes ?? Infinity, this.config.maxOutputBytes);
    const refusal = await this.verdict(bytes, moduleHash, runtime, maxMemoryBytes);
    if (refusal !== null) {
      this.metrics?.observeWasmExecution(runtime.name, 'invalid_module', 0);
      return {
        ...base,
        exit_code: null,
        stdout: '',
        stderr: refusal,
        execution_time_ms: 0,
        output_hash: sha256(''),
        outcome: 'invalid_module',
      };
    }
    return this.whenSlotFree(lane, async () => {
      const cancel = joinCutoff(request.signal, this.draining?.cutoff);
      const started = performance.now();
      const result = await runtime
        .run({
          moduleHash,
          // A trapping start function then traps in _start, the same on both runtimes (wasm-start.ts).
          bytes: () => deferStart(capModule(bytes, maxMemoryBytes)),
          stdin,
          args,
          env: request.env ?? {},
          timeoutMs: request.timeoutMs ?? this.config.timeoutMs,
          maxOutputBytes,
          // The seed binds the random stream to what is being run, so equal runs get equal bytes.
          deterministic: request.deterministic
            ? { seed: sha256(`${moduleHash}:${inputsHash}:${JSON.stringify(args)}`) }
            : null,
          signal: cancel.signal,
        })
        .finally(cancel.release);
      if (this.draining?.cutoff.aborted && result.end === 'timeout' && result.detail === CANCELLED) {
        throw shuttingDown('The server is shutting down: the run was stopped before it ended; retry it');
      }
      const elapsedMs = performance.now() - started;
      const executionTimeMs = Math.round(elapsedMs);
      const outcome = this.outcomeOf(result, maxMemoryBytes);
      this.metrics?.observeWasmExecution(runtime.name, outcome, elapsedMs / 1000);
      return {
        ...base,
        exit_code: result.end === 'exited' ? result.exitCode : null,
        stdout: parseStdout(result.stdout),
        stderr:
          result.detail && result.end !== 'exited'
            ? appendDetail(result)
            : Buffer.from(result.stderr).toString('utf8'),
        execution_time_ms: executionTimeMs,
        output_hash: sha256(result.stdout),
        outcome,
      };
    });
  }

  private async whenSlotFree<T>(lane: Lane, run: () => Promise<T>): Promise<T> {
    try {
      return await this.limiter.run(lane, run);
    } catch (error) {
      if (!(error instanceof QueueRefusal)) throw error;
      if (error.reason === 'closed') throw shuttingDown();
      throw AppException.overloaded(
        error.reason === 'lane_full'
          ? 'Too many of your runs are waiting; retry later'
          : 'The WebAssembly engine is busy; retry later',
        error.retryAfterMs,
      );
    }
  }

  /**
   * Checks once per module (and runtime, and memory cap) what would stop it from running: structural limits,
   * validity, imports, memories, entry point. The parsing happens on the check thread, not the event loop; a
   * module stored before the limits were lowered is refused here.
   */
  private async verdict(
    bytes: Uint8Array,
    moduleHash: string,
    runtime: WasmRuntime,
    maxMemoryBytes: number,
  ): Promise<string | null> {
    const key = `${runtime.name}:${maxMemoryBytes}:${moduleHash}`;
    const cached = this.verdicts.get(key);
    if (cached !== undefined) return cached;
    let verdict: string | null = null;
    try {
      const checked = await this.checker.check(bytes);
      if (!checked.ok) throw new InvalidModuleError(checked.reason);
      const summary = checked.summary;
      const bad = summary.imports.find(
        (i) => i.kind !== 'function' || !runtime.supportsImport(i.module, i.name),
      );
      if (bad)
        throw new InvalidModuleError(
          `import ${describeImport(bad)} is not available in the ${runtime.name} runtime`,
        );
      if (!summary.exports.some((e) => e.name === '_start' && e.kind === 'function')) {
        throw new InvalidModuleError('not a WASI command: no _start export');
      }
      // Checked here for both runtimes: wasmer's SDK does not refuse these modules itself, and instantiating
      // one there failed a thread of its own, which shut down the worker's SDK thread pool.
      if (!summary.exports.some((e) => e.name === 'memory' && e.kind === 'memory')) {
        throw new InvalidModuleError('module exports no memory');
      }
      if (checked.instantiationFault !== null) throw new InvalidModuleError(checked.instantiationFault);
      // Reads only the import and memory sections (the rest is copied): the run's memory cap is checked here.
      capModule(bytes, maxMemoryBytes);
    } catch (error) {
      if (!(error instanceof InvalidModuleError)) throw error;
      verdict = `invalid module: ${error.reason}`;
    }
    this.verdicts.set(key, verdict);
    return verdict;
  }

  private outcomeOf(result: RuntimeResult, maxMemoryBytes: number): Outcome {
    switch (result.end) {
      case 'invalid_module':
      case 'timeout':
      case 'output_limit':
        return result.end;
      case 'trap':
        return this.atMemoryCap(result, maxMemoryBytes) ? 'memory_limit' : 'trap';
      case 'exited':
        if (result.exitCode === 0) return 'ok';
        return this.atMemoryCap(result, maxMemoryBytes) ? 'memory_limit' : 'exit_nonzero';
    }
  }

  /**
   * A failed run whose linear memory ended within the last 1/16 of the cap ran out of memory: after the
   * rewrite `memory.grow` fails there, and the guest's allocator gives up. Only runtimes that expose the
   * final memory size (v8) can tell; wasmer reports the guest's own nonzero exit instead.
   */
  private atMemoryCap(result: RuntimeResult, cap: number): boolean {
    return result.memoryBytes !== null && result.memoryBytes >= cap - cap / 16;
  }
}

/**
 * The run's signal: the caller's, aborted at the shutdown cutoff too. The cutoff lives as long as the app, so
 * the run's listener on it is removed by `release` when the run ends.
 */
function joinCutoff(
  own: AbortSignal | undefined,
  cutoff: AbortSignal | undefined,
): { signal: AbortSignal | undefined; release: () => void } {
  if (!cutoff) return { signal: own, release: () => {} };
  const joined = new AbortController();
  const abort = () => joined.abort();
  if (own?.aborted || cutoff.aborted) abort();
  own?.addEventListener('abort', abort, { once: true });
  cutoff.addEventListener('abort', abort, { once: true });
  const release = () => {
    own?.removeEventListener('abort', abort);
    cutoff.removeEventListener('abort', abort);
  };
  return { signal: joined.signal, release };
}

function appendDetail(result: RuntimeResult): string {
  const stderr = Buffer.from(result.stderr).toString('utf8');
  return stderr ? `${stderr}\n[${result.end}: ${result.detail}]` : `[${result.end}: ${result.detail}]`;
}

/**
 * Guest output is untrusted: it is only returned as parsed JSON when it also passes the deep-JSON limits
 * (JSON.parse itself does not recurse, but serialising a 500 000-deep value back to a client would).
 */
function parseStdout(bytes: Uint8Array): unknown {
  const text = Buffer.from(bytes).toString('utf8');
  const trimmed = text.trim();
  if (trimmed === '') return text;
  try {
    const parsed = JSON.parse(trimmed) as unknown;
    return findDeepJsonViolation(parsed) ? text : parsed;
  } catch {
    return text; // not JSON: returned as text, as the contract says
  }
}
