import { Logger } from '@nestjs/common';
import type { WASI as WasiClass } from 'node:wasi';
import { join } from 'node:path';
import { MessageChannel, MessagePort, Worker } from 'node:worker_threads';
import { LruCache } from '../../common/cache/lru-cache';
import { CANCELLED, RuntimeJob, RuntimeResult, WasmRuntime } from '../runtime';
import { hasStartFunction } from '../wasm-binary';

const WORKER_FILE = join(__dirname, 'v8-worker.js');
const WASI_MODULE = 'wasi_snapshot_preview1';

/**
 * Loading node:wasi makes Node print "ExperimentalWarning: WASI is an experimental feature" to stderr (once
 * per thread; some versions on first construction instead), a line that is not JSON in the JSON log. Both
 * happen here with that one warning filtered; every other warning still reaches stderr. v8-worker.js does
 * the same for its thread.
 */
function loadWasiQuietly(): { WASI: typeof WasiClass; probe: WasiClass } {
  // Restored below; bound so the filter can call it.
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  const original = Object.getOwnPropertyDescriptor(process, 'emitWarning');
  process.emitWarning = (warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === 'ExperimentalWarning' && text.startsWith('WASI ')) return;
    emitWarning(warning, ...rest);
  };
  try {
    const { WASI } = process.getBuiltinModule('node:wasi');
    return { WASI, probe: new WASI({ version: 'preview1' }) };
  } finally {
    if (original) Object.defineProperty(process, 'emitWarning', original);
  }
}

/** The preview1 functions node:wasi implements; anything else would fail to link, so it is refused first. */
const WASI_FUNCTIONS: ReadonlySet<string> = new Set(
  Object.keys((loadWasiQuietly().probe.getImportObject() as Record<string, object>)[WASI_MODULE]),
);

/** What the worker is sent for one run (see v8-worker.js). */
interface RunMessage {
  hash: string;
  /** Only when the worker does not hold this module yet. */
  module?: WebAssembly.Module;
  /**
   * The module's bytes, when no compiled module is cached: the worker compiles them itself, inside the
   * run's timeout, so a module that is costly to compile is ended with the run (and its memory with it).
   */
  bytes?: Uint8Array<ArrayBuffer>;
  /** Whether the worker keeps `module` for later calls (only while it is in the pool's cache). */
  keep?: boolean;
  /** A module with a start function is never instantiated ahead of a call (that would run guest code). */
  hasStart?: boolean;
  stdin: Uint8Array<ArrayBuffer>;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  maxOutputBytes: number;
  deterministic: { seed: string } | null;
}

type WorkerMessage =
  | { result: RuntimeResult }
  | { need: string }
  | { warning: string }
  | { compiled: { hash: string; module: WebAssembly.Module; hasStart: boolean } };

interface Compiled {
  module: WebAssembly.Module;
  hasStart: boolean;
  /** What it costs the cache: COMPILED_BYTES_PER_MODULE_BYTE per byte of the module. */
  chargedBytes: number;
}

/**
 * What a compiled module is charged in the cache, per byte of its (memory-capped) binary. V8 does not expose
 * a module's compiled size. Measured here (Node 20, the 9 MB modules of bench/support/large-module.ts): RSS grew
 * by 19.7 MB per compiled module held, 2.2 bytes per module byte; 3 leaves room for code V8 later optimises.
 */
export const COMPILED_BYTES_PER_MODULE_BYTE = 3;

/** WASM_MODULE_CACHE_BYTES's default: what each runtime's compiled modules may hold. */
export const DEFAULT_MODULE_CACHE_BYTES = 256 * 1024 * 1024;

interface Call {
  job: RuntimeJob;
  /** Null when the worker compiles the module for this call. */
  compiled: Compiled | null;
  /** The module's size in bytes, recorded when its bytes are sent to be compiled by the worker. */
  moduleBytes: number;
  timer: NodeJS.Timeout;
  resolve: (result: RuntimeResult) => void;
}

interface Slot {
  worker: Worker;
  /** Runs and drops go here, each followed by a raise of `signal`, which wakes the worker (v8-worker.js). */
  jobs: MessagePort;
  signal: Int32Array;
  /** The call this worker is running, if any. */
  call: Call | null;
  /** Hashes of the compiled modules this worker holds (it keeps them until told to drop them). */
  modules: Set<string>;
}

export interface V8RuntimeOptions {
  poolSize: number;
  /**
   * Budget of the compiled-module cache in bytes (modules charged COMPILED_BYTES_PER_MODULE_BYTE per byte),
   * least recently used out first. The workers hold only what this cache holds (the pool shares one compiled
   * copy of each module with them), so this bounds the compiled code of the whole pool.
   */
  cacheBytes?: number;
}

const empty = () => ({ stdout: new Uint8Array(), stderr: new Uint8Array(), memoryBytes: null });

/**
 * A worker whose guest's linear memory ended this large is replaced after the run: an idle worker's heap is not
 * collected, so it would keep the guest's memory (up to the cap, in every slot) until its next run.
 */
export const RECYCLE_AFTER_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * Runs WASI commands with node:wasi in a pool of worker threads. A worker runs one guest at a time; the
 * timeout terminates the worker (the only way to stop a wasm loop that makes no calls) and a fresh one takes
 * its place. Compiled modules are cached by hash; each worker is sent a module once and keeps it while it is
 * in the cache here, so a warm call sends only the inputs.
 */
export class V8Runtime implements WasmRuntime {
  readonly name = 'v8' as const;
  readonly supportsDeterminism = true;
  private readonly logger = new Logger('V8Runtime');
  private readonly slots: Slot[] = [];
  private readonly compiled: LruCache<string, Compiled>;
  private closed = false;

  constructor(private readonly options: V8RuntimeOptions) {
    // A module leaving the cache leaves every worker too, so compiled code stays bounded by the cache budget.
    this.compiled = new LruCache({
      maxBytes: options.cacheBytes ?? DEFAULT_MODULE_CACHE_BYTES,
      sizeOf: (entry) => entry.chargedBytes,
      onEvict: (_entry, hash) => this.dropEverywhere(hash),
    });
  }

  /** The compiled-module cache: entries and charged bytes (for tests and benches). */
  get cacheStats(): { entries: number; bytes: number; budget: number } {
    return { entries: this.compiled.size, bytes: this.compiled.bytes, budget: this.compiled.maxBytes };
  }

  /** The pool's worker threads, by id (for tests: a replaced worker has a new one). */
  get workerThreadIds(): number[] {
    return this.slots.map((slot) => slot.worker.threadId);
  }

  /** Whether the compiled form of `hash` is cached (without making it the most recently used). */
  isCached(hash: string): boolean {
    return this.compiled.has(hash);
  }

  supportsImport(module: string, name: string): boolean {
    return module === WASI_MODULE && WASI_FUNCTIONS.has(name);
  }

  /** Whether a compiled module is cached for this hash (a module whose compile was cut short never is). */
  holdsCompiled(moduleHash: string): boolean {
    return this.compiled.has(moduleHash);
  }

  /** Starts the pool, or `workers` of it, ahead of the first call (optional: workers also start on demand). */
  warmUp(workers = this.options.poolSize): void {
    const target = Math.min(workers, this.options.poolSize);
    while (this.slots.length < target) this.slots.push(this.spawn());
  }

  /**
   * The timeout starts before the module is compiled: a cache miss is compiled by the worker as part of the
   * run, so compile time counts against `timeoutMs`, and at the deadline the worker (compiler and all) is
   * terminated. A compile that V8 cannot interrupt ends with the thread, within the structural limits'
   * bounded cost (wasm-limits.ts); the caller has its `timeout` at the deadline either way.
   */
  run(job: RuntimeJob): Promise<RuntimeResult> {
    if (this.closed) return Promise.reject(new Error('V8Runtime is closed'));
    const compiled = this.compiled.get(job.moduleHash) ?? null;
    if (job.signal?.aborted)
      return Promise.resolve({ end: 'timeout', exitCode: null, ...empty(), detail: CANCELLED });
    const slot = this.acquire();
    return new Promise<RuntimeResult>((resolve) => {
      const timer = setTimeout(() => {
        this.settle(slot, { end: 'timeout', exitCode: null, ...empty(), detail: null }, false);
      }, job.timeoutMs);
      const call: Call = { job, compiled, moduleBytes: 0, timer, resolve };
      // A cancelled run is stopped like a timed-out one: its worker is terminated and replaced.
      const cancel = () => {
        if (slot.call === call) {
          this.settle(slot, { end: 'timeout', exitCode: null, ...empty(), detail: CANCELLED }, false);
        }
      };
      job.signal?.addEventListener('abort', cancel, { once: true });
      slot.call = call;
      this.post(slot, call);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.slots.splice(0).map((slot) => slot.worker.terminate());
    this.compiled.clear();
    await Promise.all(workers);
  }

  /** Sends a run to a worker, with the compiled module only if the worker does not hold it already. */
  private post(slot: Slot, call: Call): void {
    const { job, compiled } = call;
    const hash = job.moduleHash;
    const message: RunMessage = {
      hash,
      // A copy of exactly the input, transferred: posting a small Buffer would copy Node's whole Buffer pool.
      stdin: new Uint8Array(job.stdin),
      args: job.args,
      env: job.env,
      maxOutputBytes: job.maxOutputBytes,
      deterministic: job.deterministic,
    };
    const transfer: ArrayBuffer[] = [message.stdin.buffer];
    if (!compiled) {
      // Compiled by the worker, which sends the module back for the cache (see `cache`).
      const bytes = job.bytes();
      call.moduleBytes = bytes.byteLength;
      message.bytes = bytes;
      message.hasStart = hasStartFunction(bytes);
      message.keep = true;
      transfer.push(bytes.buffer);
    } else if (!slot.modules.has(hash)) {
      message.module = compiled.module;
      message.hasStart = compiled.hasStart;
      // A worker keeps a module only while it is cached here: one evicted is dropped from every worker.
      message.keep = this.compiled.has(hash);
      if (message.keep) slot.modules.add(hash);
    }
    this.send(slot, { run: message }, transfer);
  }

  private send(slot: Slot, message: object, transfer: ArrayBuffer[] = []): void {
    slot.jobs.postMessage(message, transfer);
    Atomics.store(slot.signal, 0, 1);
    Atomics.notify(slot.signal, 0);
  }

  private dropEverywhere(hash: string): void {
    for (const slot of this.slots) {
      if (slot.modules.delete(hash)) this.send(slot, { drop: hash });
    }
  }

  /**
   * The first idle worker, so back-to-back calls keep going to the same warm one (it has the module, and
   * has prepared the next instance). Rotating through the pool instead measured slower on two cores: the
   * other workers' preparation then competes with the event loop.
   */
  private acquire(): Slot {
    let slot = this.slots.find((candidate) => candidate.call === null);
    if (!slot) this.slots.push((slot = this.spawn()));
    return slot;
  }

  private spawn(): Slot {
    const { port1: jobs, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const worker = new Worker(WORKER_FILE, {
      workerData: { jobs: port2, signal },
      transferList: [port2],
      // The guest's JS heap needs little; wasm memory is capped in the module itself (see wasm-binary.ts).
      resourceLimits: { maxOldGenerationSizeMb: 64, stackSizeMb: 4 },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    const slot: Slot = { worker, jobs, signal, call: null, modules: new Set() };
    worker.on('message', (message: WorkerMessage) => {
      if ('warning' in message) this.logger.warn(message.warning);
      else if ('compiled' in message) this.cache(slot, message.compiled);
      else if ('need' in message) this.resend(slot, message.need);
      else this.settle(slot, message.result, (message.result.memoryBytes ?? 0) < RECYCLE_AFTER_MEMORY_BYTES);
    });
    // A worker that dies (its own heap exhausted, an internal error) ends its call only.
    worker.on('error', (error: Error) => {
      this.logger.warn(`guest worker failed: ${error.message}`);
      this.settle(
        slot,
        { end: 'trap', exitCode: null, ...empty(), detail: 'the guest worker failed' },
        false,
      );
    });
    worker.on('exit', () => {
      jobs.close();
      this.settle(
        slot,
        { end: 'trap', exitCode: null, ...empty(), detail: 'the guest worker exited' },
        false,
      );
    });
    return slot;
  }

  /** A worker compiled a module (and keeps it): cached here so other workers are sent the compiled code. */
  private cache(
    slot: Slot,
    { hash, module, hasStart }: Omit<Compiled, 'chargedBytes'> & { hash: string },
  ): void {
    const call = slot.call;
    if (!call || call.job.moduleHash !== hash || this.closed) return;
    call.compiled = { module, hasStart, chargedBytes: call.moduleBytes * COMPILED_BYTES_PER_MODULE_BYTE };
    slot.modules.add(hash);
    // A module over the whole budget serves this call only: no worker keeps it.
    if (!this.compiled.set(hash, call.compiled)) this.dropEverywhere(hash);
  }

  /** The worker did not hold the module it was asked to run (it should not happen): send it again, whole. */
  private resend(slot: Slot, hash: string): void {
    const call = slot.call;
    if (!call || call.job.moduleHash !== hash) return;
    slot.modules.delete(hash);
    this.post(slot, call);
  }

  /**
   * Ends the slot's current call (a late answer from a worker already given up on finds none). An unhealthy
   * worker is terminated and a fresh one takes its place (unless closing).
   */
  private settle(slot: Slot, result: RuntimeResult, workerIsHealthy: boolean): void {
    const call = slot.call;
    if (workerIsHealthy && !call) return;
    slot.call = null;
    if (call) clearTimeout(call.timer);
    if (!workerIsHealthy) this.replace(slot);
    call?.resolve(result);
  }

  private replace(slot: Slot): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return; // already replaced (e.g. its exit after a timeout's terminate)
    this.slots.splice(index, 1);
    void slot.worker.terminate();
    if (!this.closed && this.slots.length < this.options.poolSize) this.slots.push(this.spawn());
  }
}
