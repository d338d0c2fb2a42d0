import { Logger } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CANCELLED, RuntimeJob, RuntimeResult, WASIX_SPAWNS, WasmRuntime } from '../runtime';
import { COMPILED_BYTES_PER_MODULE_BYTE, DEFAULT_MODULE_CACHE_BYTES } from '../v8/v8.runtime';

const WORKER_FILE = join(__dirname, 'wasmer-worker.js');
const WASI_MODULE = 'wasi_snapshot_preview1';
const SDK_WASM = 'wasmer_sdk_js_bg.wasm';
/** Longest a worker may take to start its SDK client and load the package before the guest's clock starts. */
const START_LIMIT_MS = 15_000;

interface Slot {
  worker: Worker;
  busy: boolean;
  /** Set once the worker's SDK client is up; idle ready slots are preferred. */
  ready: boolean;
  runs: number;
}

type FromWorker =
  | { type: 'ready' }
  | { type: 'warning'; message: string }
  | { type: 'need-bytes'; id: number }
  | { type: 'started'; id: number }
  | {
      type: 'result';
      id: number;
      result: RuntimeResult;
      healthy: boolean;
      /** The guest did not start: the worker cannot run anything. */
      retry?: boolean;
      warning?: string;
    };

export interface WasmerRuntimeOptions {
  /** Workers kept (each holds one SDK client, 60–90 MB fresh); more start on demand, up to the service's cap. */
  poolSize: number;
  /**
   * Budget of loaded packages in bytes for the whole pool: each of `poolSize` workers keeps its own packages
   * (and compiled code), so each gets an even share, charging COMPILED_BYTES_PER_MODULE_BYTE + 1 per module
   * byte (the SDK keeps the bytes too).
   */
  cacheBytes?: number;
  /** Runs after which a worker is replaced by a fresh one (the SDK's memory only grows; see RUNS_PER_WORKER). */
  runsPerWorker?: number;
}

/**
 * Measured on @wasmer/sdk 0.16: a client's memory grows by ~0.16 MB per run (sandbox + spawned process, even
 * when both are closed), without bound. Replacing a worker costs ~0.2 s of CPU off the event loop, so after
 * 500 runs (~80 MB) that is ~0.5 ms per run.
 */
const RUNS_PER_WORKER = 500;

/**
 * Runs WASI/WASIX commands with @wasmer/sdk, one SDK client per worker thread and one guest per worker at a
 * time. Each call gets a fresh sandbox (so no file a guest writes survives into another call), with
 * networking disabled and only the virtual file system; stdout and stderr are streamed, and a guest whose
 * output passes the cap is killed at once.
 *
 * The timeout is enforced here, not by the SDK: at the deadline the worker is terminated, which also ends the
 * threads the SDK started inside it (Node ends nested workers with their parent), so a runaway guest stops
 * using CPU at once; a fresh worker takes its place. Measured on @wasmer/sdk 0.16: its own timeoutMs fired
 * 0.1–0.9 s late, and not at all with several runaway guests in one client; and its kill() reports a spinning
 * guest `terminated` while the guest's thread keeps burning a core. The guest's clock starts when the worker
 * starts the run, so a cold worker's start-up (SDK client, package load) is not taken from the guest.
 *
 * The SDK is only loaded inside the workers, which start on the first wasmer call (a v8-only deployment pays
 * nothing); the main thread only posts messages, so the event loop never runs SDK code.
 *
 * No deterministic mode: the SDK offers no way to replace the guest's clock or random source.
 */
export class WasmerRuntime implements WasmRuntime {
  readonly name = 'wasmer' as const;
  readonly supportsDeterminism = false;
  private readonly logger = new Logger('WasmerRuntime');
  private readonly slots: Slot[] = [];
  private closed = false;
  private nextId = 1;
  private compiledSdk: Promise<WebAssembly.Module | null> | null = null;

  constructor(private readonly options: WasmerRuntimeOptions) {}

  supportsImport(module: string, name: string): boolean {
    if (module === WASI_MODULE) return true;
    return /^wasix_[A-Za-z0-9_]+$/.test(module) && !WASIX_SPAWNS.test(name);
  }

  /** Starts the pool ahead of the first call (optional: workers are also started on demand). */
  warmUp(): void {
    while (this.slots.length < this.options.poolSize) this.slots.push(this.spawn());
  }

  run(job: RuntimeJob): Promise<RuntimeResult> {
    if (this.closed) return Promise.reject(new Error('WasmerRuntime is closed'));
    if (job.deterministic) return Promise.reject(new Error('the wasmer runtime has no deterministic mode'));
    return this.attempt(job, 1);
  }

  /**
   * One try of a run on one worker. A worker that answers that it could not start the guest because it is
   * unusable (its SDK thread pool shut down) is replaced and the job tried again on another, `retries` times:
   * the guest never ran, and the run is not failed for what an earlier module did to that worker.
   */
  private attempt(job: RuntimeJob, retries: number): Promise<RuntimeResult> {
    if (this.closed) return Promise.reject(new Error('WasmerRuntime is closed'));
    if (job.signal?.aborted)
      return Promise.resolve({ end: 'timeout', exitCode: null, ...empty(), detail: CANCELLED });
    const slot = this.acquire();
    const id = this.nextId++;
    return new Promise<RuntimeResult>((resolve) => {
      const settle = (result: RuntimeResult, workerIsHealthy: boolean, retry = false) => {
        clearTimeout(timer);
        job.signal?.removeEventListener('abort', onAbort);
        slot.worker.off('message', onMessage);
        slot.worker.off('error', onError);
        slot.worker.off('exit', onExit);
        slot.runs += 1;
        if (workerIsHealthy && slot.runs < (this.options.runsPerWorker ?? RUNS_PER_WORKER)) slot.busy = false;
        else this.replace(slot);
        resolve(retry && retries > 0 && !this.closed ? this.attempt(job, retries - 1) : result);
      };
      // Starting a worker's SDK client (0.3–2 s on a busy 2-core machine) and loading the package are not the
      // guest's time, as compiling is not on v8: they have a bound of their own, and the guest's timeout starts
      // when the worker starts on the run itself (fresh sandbox, then the guest).
      let timer = setTimeout(() => {
        this.logger.warn(`a wasmer worker did not start a run within ${START_LIMIT_MS} ms`);
        settle(
          { end: 'trap', exitCode: null, ...empty(), detail: 'the wasmer runtime did not start' },
          false,
        );
      }, START_LIMIT_MS);
      const onMessage = (message: FromWorker) => {
        if (message.type === 'started' && message.id === id) {
          clearTimeout(timer);
          timer = setTimeout(() => {
            settle({ end: 'timeout', exitCode: null, ...empty(), detail: null }, false);
          }, job.timeoutMs);
        } else if (message.type === 'need-bytes' && message.id === id) {
          // Only on a miss of the worker's package cache. The bytes are moved, not copied (capModule builds a
          // fresh buffer; anything else is copied first).
          const capped = job.bytes();
          const bytes = capped.byteLength === capped.buffer.byteLength ? capped : capped.slice();
          slot.worker.postMessage({ type: 'bytes', id, bytes }, [bytes.buffer]);
        } else if (message.type === 'result' && message.id === id) {
          if (message.warning) this.logger.warn(`wasmer worker replaced after: ${message.warning}`);
          settle(message.result, message.healthy, message.retry);
        }
      };
      // A worker that dies (the SDK failed to start, an internal error) ends this call only.
      const onError = (error: Error) => {
        this.logger.warn(`wasmer worker failed: ${error.message}`);
        settle({ end: 'trap', exitCode: null, ...empty(), detail: 'the wasmer runtime failed' }, false);
      };
      const onExit = () =>
        settle({ end: 'trap', exitCode: null, ...empty(), detail: 'the wasmer worker exited' }, false);
      // A cancelled run is stopped like a timed-out one: its worker is terminated and replaced.
      const onAbort = () => settle({ end: 'timeout', exitCode: null, ...empty(), detail: CANCELLED }, false);
      job.signal?.addEventListener('abort', onAbort, { once: true });
      slot.worker.on('message', onMessage);
      slot.worker.once('error', onError);
      slot.worker.once('exit', onExit);
      slot.worker.postMessage({
        type: 'run',
        job: {
          id,
          moduleHash: job.moduleHash,
          // A copy: a small Buffer is a view of Node's shared pool, which must not be sent whole.
          stdin: new Uint8Array(job.stdin),
          args: [...job.args],
          env: { ...job.env },
          maxOutputBytes: job.maxOutputBytes,
        },
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private acquire(): Slot {
    const idle = this.slots.find((slot) => !slot.busy && slot.ready) ?? this.slots.find((slot) => !slot.busy);
    const slot = idle ?? this.spawn();
    if (!idle) this.slots.push(slot);
    slot.busy = true;
    return slot;
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_FILE, {
      workerData: {
        cacheBytes: Math.floor(
          (this.options.cacheBytes ?? DEFAULT_MODULE_CACHE_BYTES) / this.options.poolSize,
        ),
        bytesPerModuleByte: COMPILED_BYTES_PER_MODULE_BYTE + 1,
      },
      stdout: false,
      stderr: false,
    });
    // Never keeps the process alive: close() (or exit) ends it, and the SDK's threads with it.
    worker.unref();
    void this.sdkModule().then((module) => worker.postMessage({ type: 'sdk', module }));
    const slot: Slot = { worker, busy: false, ready: false, runs: 0 };
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') slot.ready = true;
      else if (message.type === 'warning') this.logger.warn(message.message);
    });
    // A worker that fails while idle is dropped; a call on it is settled by its own listeners.
    worker.on('error', (error) => {
      if (!slot.busy) this.logger.warn(`idle wasmer worker failed: ${error.message}`);
    });
    worker.on('exit', () => {
      if (!slot.busy) this.drop(slot);
    });
    return slot;
  }

  /**
   * The SDK's own WebAssembly (4.7 MB), compiled once (asynchronously, off the event loop) and shared with every
   * worker instead of compiled again by each: measured, a fresh worker then starts with ~40 % less CPU, which
   * matters because every timeout replaces one. Null (each worker compiles its own) if the file is not where
   * @wasmer/sdk 0.16 keeps it.
   */
  private sdkModule(): Promise<WebAssembly.Module | null> {
    this.compiledSdk ??= (async () => {
      try {
        const entry = require.resolve('@wasmer/sdk/node');
        return await WebAssembly.compile(await readFile(join(dirname(entry), '..', 'pkg', SDK_WASM)));
      } catch (error) {
        this.logger.warn(`could not precompile the wasmer SDK: ${describe(error)}`);
        return null;
      }
    })();
    return this.compiledSdk;
  }

  private drop(slot: Slot): void {
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
  }

  /**
   * Terminates a worker that timed out, failed or served its runs — ending the guest and every thread the SDK
   * started for it — and starts a fresh one in its place (unless closing), so the pool stays warm.
   */
  private replace(slot: Slot): void {
    this.drop(slot);
    void slot.worker.terminate();
    if (!this.closed && this.slots.length < this.options.poolSize) this.slots.push(this.spawn());
  }
}

const empty = () => ({ stdout: new Uint8Array(), stderr: new Uint8Array(), memoryBytes: null });

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0].slice(0, 200);
}
