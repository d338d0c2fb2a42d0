// @ts-check
'use strict';
/*
 * The wasmer runtime's worker thread: owns one @wasmer/sdk client and runs one guest at a time with it. Plain
 * JavaScript so the same file runs from src/ (tests) and dist/ (copied by nest-cli assets) without a loader.
 *
 * The SDK runs each guest in worker threads of its own, which it starts from this thread. Node ends a worker's
 * nested workers with it, so the main thread stops a runaway guest — and every thread the SDK started for it —
 * by terminating this worker (see WasmerRuntime). Nothing here enforces the timeout.
 */
const { parentPort, workerData } = require('node:worker_threads');
const { setPriority } = require('node:os');
const { setInterval, clearInterval } = require('node:timers');
const { dirname, join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { Capture } = require('../output-capture.js');

if (!parentPort) throw new Error('wasmer-worker must run in a worker thread');
const port = parentPort;

try {
  // Before the SDK starts: on Linux a thread inherits its creator's nice value, so the SDK's threads (where
  // the guests run) get it too, and the main thread's event loop always wins the CPU.
  setPriority(0, 10);
} catch (error) {
  port.postMessage({ type: 'warning', message: `could not lower guest thread priority: ${String(error)}` });
}

/** @typedef {typeof import('@wasmer/sdk/node')} Sdk */
/** @typedef {import('@wasmer/sdk/node').Package} Package */
/** @typedef {import('../runtime').RuntimeResult} Result (as posted; `end` and `detail` as in RuntimeResult) */

/**
 * This worker's budget for loaded packages, in bytes: each is charged `bytesPerModuleByte` per byte of its
 * binary (the SDK holds the bytes and V8's compiled code for them), least recently used out first.
 */
const { cacheBytes, bytesPerModuleByte } = /** @type {{ cacheBytes: number, bytesPerModuleByte: number }} */ (
  workerData
);

/** The SDK's own compiled WebAssembly, sent once by the main thread (null: this worker compiles it). */
/** @type {(module: WebAssembly.Module | null) => void} */
let receiveSdkModule = () => undefined;
/** @type {Promise<WebAssembly.Module | null>} */
const sdkModule = new Promise((resolve) => (receiveSdkModule = resolve));

// A WASI command that does nothing: run once at start-up, so the SDK has started the thread a guest runs in
// (~0.3 s on the first run) before any real guest's clock starts.
const WARM_UP = Buffer.from('AGFzbQEAAAABBAFgAAADAgEABQMBAAEHEwIGbWVtb3J5AgAGX3N0YXJ0AAAKBAECAAs=', 'base64');

/**
 * Whether a thread of the SDK's own pool has failed. One failure shuts the pool down ("Scheduler is dead") and
 * every later spawn in this client fails, so this worker must then be replaced. It is read from the SDK's
 * Node worker adapter (not part of its exported API; the version is pinned): if that is not where 0.16 keeps
 * it, only a spawn that fails for that reason tells.
 * @type {() => boolean}
 */
let sdkPoolFailed = () => false;

async function watchSdkPool() {
  try {
    const adapter = pathToFileURL(
      join(dirname(require.resolve('@wasmer/sdk/node')), 'node-worker-adapter.js'),
    );
    const { nodeWorkerStats } = await import(adapter.href);
    if (typeof nodeWorkerStats === 'function') sdkPoolFailed = () => nodeWorkerStats().workerFailures > 0;
    else throw new Error('no nodeWorkerStats');
  } catch (error) {
    port.postMessage({
      type: 'warning',
      message: `cannot watch the wasmer SDK's threads: ${describe(error)}`,
    });
  }
}

/** @param {unknown} error */
const poolShutDown = (error) => /thread pool is shut down|Scheduler is dead/.test(String(error));

const client = (async () => {
  // ESM-only package: a real dynamic import from this CommonJS file.
  const sdk = /** @type {Sdk} */ (await import('@wasmer/sdk/node'));
  await watchSdkPool();
  const module = await sdkModule;
  // cache: false — nothing is written to disk (the default is a .wasmer directory in the cwd).
  const wasmer = new sdk.Wasmer({ cache: false, ...(module ? { wasm: module } : {}) });
  await wasmer.ready();
  try {
    const pkg = await wasmer.packages.load(WARM_UP);
    const sandbox = await wasmer.sandboxes.create({ packages: [pkg], network: { mode: 'disabled' } });
    await sandbox
      .command(pkg)
      .run({ check: false })
      .finally(() => sandbox.close());
  } catch (error) {
    port.postMessage({ type: 'warning', message: `wasmer worker warm-up failed: ${describe(error)}` });
  }
  return { sdk, wasmer };
})();
/**
 * The process's resident size once this worker's client was ready. What guests write to their in-memory file
 * system stays in the SDK's memory after their sandbox is closed (a probe's 1 GB file stayed, and later runs of
 * other users then failed or timed out): a worker past GROWTH_LIMIT_BYTES of growth since is replaced, which
 * frees it. The measure is the whole process's, so other work can retire a worker early; that costs a start.
 */
let rssAtReady = 0;
const GROWTH_LIMIT_BYTES = 512 * 1024 * 1024;

/** Why this worker should be replaced after a run, or null. */
function outgrown() {
  const grown = process.memoryUsage.rss() - rssAtReady;
  return grown > GROWTH_LIMIT_BYTES
    ? `the process grew by ${Math.round(grown / 1048576)} MB since this worker started (what guests wrote to their file systems stays in the SDK's memory)`
    : null;
}

client.then(
  () => {
    rssAtReady = process.memoryUsage.rss();
    port.postMessage({ type: 'ready' });
  },
  // Without a client this worker is useless: failing it lets the main thread replace it.
  (error) => {
    throw error;
  },
);

/** Loaded packages by module hash, least recently used first. @type {Map<string, { pkg: Package, bytes: number }>} */
const packages = new Map();
let packageBytes = 0;
/** Module bytes asked of the main thread, by job id. @type {Map<number, (bytes: Uint8Array) => void>} */
const pendingBytes = new Map();

/** @param {unknown} error */
function describe(error) {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0].slice(0, 200);
}

/** @param {number} id @param {string} moduleHash */
async function packageFor(id, moduleHash) {
  const { wasmer } = await client;
  const cached = packages.get(moduleHash);
  if (cached) {
    packages.delete(moduleHash);
    packages.set(moduleHash, cached);
    return cached.pkg;
  }
  const bytes = /** @type {Uint8Array} */ (
    await new Promise((resolve) => {
      pendingBytes.set(id, resolve);
      port.postMessage({ type: 'need-bytes', id });
    })
  );
  const pkg = await wasmer.packages.load(bytes);
  const charged = bytes.byteLength * bytesPerModuleByte;
  // One over the whole budget runs once and is not kept; otherwise the oldest go until it fits.
  if (charged > cacheBytes || packages.has(moduleHash)) return pkg;
  packages.set(moduleHash, { pkg, bytes: charged });
  packageBytes += charged;
  for (const [hash, entry] of packages) {
    if (packageBytes <= cacheBytes) break;
    packages.delete(hash);
    packageBytes -= entry.bytes;
  }
  return pkg;
}

/** @typedef {{ id: number, moduleHash: string, stdin: Uint8Array, args: string[], env: Record<string, string>,
 *   maxOutputBytes: number }} Job */
/**
 * `retry`: this worker's SDK can no longer run anything, so the main thread replaces it and runs the job again
 * on a fresh one (a guest has nothing outside its fresh sandbox, so running it again changes nothing else).
 * @typedef {{ result: Result, healthy: boolean, retry?: boolean, warning?: string }} Answer
 */

/** How often a run looks whether the SDK's thread pool failed meanwhile. */
const POOL_CHECK_MS = 20;

/**
 * Runs a job, unless the SDK's thread pool fails meanwhile. Measured: a module whose instantiation fails in the
 * SDK (a start function that traps) ends its own run first, and the pool fails some milliseconds later, often
 * during the next run, whose spawn then hangs instead of failing.
 * @param {Job} job
 * @returns {Promise<Answer>}
 */
async function execute(job) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  /** @type {Promise<Answer>} */
  const poolFailed = new Promise((resolve) => {
    timer = setInterval(() => {
      if (sdkPoolFailed()) resolve(poolFailure(new Uint8Array(), new Uint8Array(), null));
    }, POOL_CHECK_MS);
  });
  try {
    return await Promise.race([runOnSdk(job), poolFailed]);
  } finally {
    clearInterval(timer);
  }
}

/**
 * Security: a module that broke the SDK's thread pool must not fail later runs here, which may be other
 * users': the worker is reported unusable, so it is replaced and the run goes to a fresh one.
 * @param {Uint8Array} stdout @param {Uint8Array} stderr @param {unknown} error
 * @returns {Answer}
 */
function poolFailure(stdout, stderr, error) {
  const detail = 'the wasmer runtime failed';
  const result = {
    end: /** @type {const} */ ('trap'),
    exitCode: null,
    stdout,
    stderr,
    memoryBytes: null,
    detail,
  };
  const warning = `the wasmer SDK's thread pool has shut down${error ? `: ${describe(error)}` : ''}`;
  return { result, healthy: false, retry: true, warning };
}

/**
 * @param {Job} job
 * @returns {Promise<Answer>}
 */
async function runOnSdk(job) {
  const { sdk, wasmer } = await client;
  const stdout = new Capture(job.maxOutputBytes);
  const stderr = new Capture(job.maxOutputBytes);
  /** @returns {Result} */
  const finish = (
    /** @type {Result['end']} */ end,
    /** @type {number | null} */ exitCode,
    /** @type {string | null} */ detail = null,
  ) => ({
    end,
    exitCode,
    stdout: stdout.bytes(),
    stderr: stderr.bytes(),
    memoryBytes: null,
    detail,
  });
  if (sdkPoolFailed()) return poolFailure(stdout.bytes(), stderr.bytes(), null);
  /** @type {Package} */
  let pkg;
  try {
    pkg = await packageFor(job.id, job.moduleHash);
  } catch (error) {
    return { result: finish('invalid_module', null, describe(error)), healthy: true };
  }
  // A fresh sandbox per call, so no file a guest writes survives into another call. No network, no host
  // directories, and only the variables the task lists.
  /** @type {import('@wasmer/sdk/node').Sandbox | undefined} */
  let sandbox;
  let closeSandbox = true;
  try {
    // The guest's timeout runs from here (the main thread enforces it).
    port.postMessage({ type: 'started', id: job.id });
    sandbox = await wasmer.sandboxes.create({
      packages: [pkg],
      network: { mode: 'disabled' },
      env: { ...job.env },
    });
    const proc = await sandbox
      .command(pkg, [...job.args])
      .spawn({ stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
    // The guest may exit without reading its stdin: the write is not waited for, and its failure is not an
    // error of the run.
    const stdinPipe = /** @type {NonNullable<typeof proc.stdin>} */ (proc.stdin);
    void (async () => {
      if (job.stdin.length > 0) await stdinPipe.write(job.stdin);
      await stdinPipe.close();
    })().catch(() => undefined);
    /** @type {() => void} */
    let overflowed = () => undefined;
    const overflow = new Promise((resolve) => (overflowed = () => resolve('overflow')));
    /** Output is read as it comes, so a guest past the cap is stopped at once, not left to run to its timeout. */
    const drain = async (
      /** @type {AsyncIterable<Uint8Array> | null} */ stream,
      /** @type {Capture} */ into,
    ) => {
      if (!stream) return;
      for await (const chunk of stream) {
        if (!into.push(chunk)) return overflowed();
      }
    };
    const drained = Promise.all([drain(proc.stdout, stdout), drain(proc.stderr, stderr)]);
    drained.catch(() => undefined); // still seen below; only a failure after an overflow goes unobserved
    if ((await Promise.race([drained, overflow])) === 'overflow') {
      // Nothing more is waited for: after the SDK's kill, a read of the other stream can stay pending for
      // good (measured), and the SDK's kill only stops a guest at its next system call, so one that now spins
      // would keep burning CPU here. The main thread terminates this worker, which ends all of it.
      void proc.kill().catch(() => undefined);
      closeSandbox = false;
      return { result: finish('output_limit', null), healthy: false };
    }
    const output = await proc.wait({ check: false });
    const healthy = !sdkPoolFailed();
    if (output.reason === 'exited') return { result: finish('exited', output.exitCode), healthy };
    return { result: finish('trap', null, output.reason), healthy };
  } catch (error) {
    if (sdkPoolFailed() || poolShutDown(error)) return poolFailure(stdout.bytes(), stderr.bytes(), error);
    // A guest trap is thrown by the SDK (EXECUTION_ERROR); it leaves the client usable.
    if (error instanceof sdk.WasmerError && error.code === 'EXECUTION_ERROR') {
      return { result: finish('trap', null, describe(error)), healthy: true };
    }
    // Anything else means the SDK itself is in trouble: the main thread replaces this worker.
    return {
      result: finish('trap', null, 'the wasmer runtime failed'),
      healthy: false,
      warning: describe(error),
    };
  } finally {
    if (closeSandbox) await sandbox?.close().catch(() => undefined);
  }
}

port.on('message', (message) => {
  if (message.type === 'sdk') {
    receiveSdkModule(message.module);
    return;
  }
  if (message.type === 'bytes') {
    const resolve = pendingBytes.get(message.id);
    pendingBytes.delete(message.id);
    resolve?.(message.bytes);
    return;
  }
  if (message.type === 'run') {
    void execute(message.job).then((outcome) => {
      const { result } = outcome;
      const grown = outcome.healthy ? outgrown() : null;
      if (grown) Object.assign(outcome, { healthy: false, warning: grown });
      port.postMessage({ type: 'result', id: message.job.id, ...outcome }, [
        /** @type {ArrayBuffer} */ (result.stdout.buffer),
        /** @type {ArrayBuffer} */ (result.stderr.buffer),
      ]);
    });
  }
});
