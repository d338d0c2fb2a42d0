import { Logger } from '@nestjs/common';
import { WASI } from 'node:wasi';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { LruCache } from '../lru-cache';
import { RuntimeJob, RuntimeResult, WasmRuntime } from '../runtime';

const WORKER_FILE = join(__dirname, 'v8-worker.js');
const WASI_MODULE = 'wasi_snapshot_preview1';

/** The preview1 functions node:wasi implements; anything else would fail to link, so it is refused first. */
const WASI_FUNCTIONS: ReadonlySet<string> = new Set(
  Object.keys((new WASI({ version: 'preview1' }).getImportObject() as Record<string, object>)[WASI_MODULE]),
);

interface Slot {
  worker: Worker;
  busy: boolean;
}

export interface V8RuntimeOptions {
  poolSize: number;
  cacheSize?: number;
}

/**
 * Runs WASI commands with node:wasi in a pool of worker threads. A worker runs one guest at a time; the
 * timeout terminates the worker (the only way to stop a wasm loop that makes no calls) and a fresh one takes
 * its place. Compiled modules are cached by hash and shared with workers by postMessage.
 */
export class V8Runtime implements WasmRuntime {
  readonly name = 'v8' as const;
  readonly supportsDeterminism = true;
  private readonly logger = new Logger('V8Runtime');
  private readonly slots: Slot[] = [];
  private readonly compiled: LruCache<string, Promise<WebAssembly.Module>>;
  private closed = false;

  constructor(private readonly options: V8RuntimeOptions) {
    this.compiled = new LruCache(options.cacheSize ?? 64);
  }

  supportsImport(module: string, name: string): boolean {
    return module === WASI_MODULE && WASI_FUNCTIONS.has(name);
  }

  /** Starts the pool ahead of the first call (optional: workers are also started on demand). */
  warmUp(): void {
    while (this.slots.length < this.options.poolSize) this.slots.push(this.spawn());
  }

  async run(job: RuntimeJob): Promise<RuntimeResult> {
    if (this.closed) throw new Error('V8Runtime is closed');
    let module: WebAssembly.Module;
    try {
      module = await this.compile(job);
    } catch (error) {
      const detail = error instanceof Error ? error.message : 'compile error';
      return {
        end: 'invalid_module',
        exitCode: null,
        stdout: new Uint8Array(),
        stderr: new Uint8Array(),
        memoryBytes: null,
        detail,
      };
    }
    const slot = this.acquire();
    return new Promise<RuntimeResult>((resolve) => {
      const settle = (result: RuntimeResult, workerIsHealthy: boolean) => {
        clearTimeout(timer);
        slot.worker.off('message', onMessage);
        slot.worker.off('error', onError);
        slot.worker.off('exit', onExit);
        if (workerIsHealthy) slot.busy = false;
        else this.replace(slot);
        resolve(result);
      };
      const empty = () => ({ stdout: new Uint8Array(), stderr: new Uint8Array(), memoryBytes: null });
      const timer = setTimeout(() => {
        settle({ end: 'timeout', exitCode: null, ...empty(), detail: null }, false);
      }, job.timeoutMs);
      const onMessage = (message: { result?: RuntimeResult; warning?: string }) => {
        if (message.warning) this.logger.warn(message.warning);
        if (message.result) settle(message.result, true);
      };
      // A worker that dies (its own heap exhausted, an internal error) ends this call only.
      const onError = (error: Error) => {
        this.logger.warn(`guest worker failed: ${error.message}`);
        settle({ end: 'trap', exitCode: null, ...empty(), detail: 'the guest worker failed' }, false);
      };
      const onExit = () =>
        settle({ end: 'trap', exitCode: null, ...empty(), detail: 'the guest worker exited' }, false);
      slot.worker.on('message', onMessage);
      slot.worker.once('error', onError);
      slot.worker.once('exit', onExit);
      slot.worker.postMessage({
        module,
        stdin: job.stdin,
        args: [...job.args],
        env: { ...job.env },
        maxOutputBytes: job.maxOutputBytes,
        deterministic: job.deterministic,
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.slots.splice(0).map((slot) => slot.worker.terminate());
    this.compiled.clear();
    await Promise.all(workers);
  }

  private compile(job: RuntimeJob): Promise<WebAssembly.Module> {
    const cached = this.compiled.get(job.moduleHash);
    if (cached) return cached;
    // Async compile runs off the event loop; a failed compile is not cached.
    const compiled = WebAssembly.compile(job.bytes());
    compiled.catch(() => this.compiled.delete(job.moduleHash));
    this.compiled.set(job.moduleHash, compiled);
    return compiled;
  }

  private acquire(): Slot {
    const idle = this.slots.find((slot) => !slot.busy);
    const slot = idle ?? this.spawn();
    if (!idle) this.slots.push(slot);
    slot.busy = true;
    return slot;
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_FILE, {
      // The guest's JS heap needs little; wasm memory is capped in the module itself (see wasm-binary.ts).
      resourceLimits: { maxOldGenerationSizeMb: 64, stackSizeMb: 4 },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    return { worker, busy: false };
  }

  /** Terminates a worker that timed out or failed and puts a fresh one in its place (unless closing). */
  private replace(slot: Slot): void {
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    void slot.worker.terminate();
    if (!this.closed && this.slots.length < this.options.poolSize) this.slots.push(this.spawn());
  }
}
