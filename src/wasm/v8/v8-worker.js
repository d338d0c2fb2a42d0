// @ts-check
'use strict';
/*
 * The v8 runtime's worker thread: runs one WASI command at a time with node:wasi. Plain JavaScript so the
 * same file runs from src/ (tests) and dist/ (copied by nest-cli assets) without a TypeScript loader.
 *
 * node:wasi is not a sandbox by itself (Node's docs say so); isolation comes from V8's wasm sandbox plus
 * giving the guest nothing: no preopened directories, an explicit environment, no sockets, stdio that never
 * touches the host's descriptors, and only the WASI functions guest-imports.js allows.
 *
 * Messages from the pool (v8.runtime.ts), on the `jobs` port; answers go to the parent port:
 *   { run: { hash, module? | bytes?, keep?, hasStart?, stdin, args, env, maxOutputBytes, deterministic } }
 *                                      → { compiled }? (after compiling `bytes`), then { result }; or { need }
 *   { drop: hash }                                                                 (no answer)
 * A compiled module is sent once per worker and, with `keep`, held here by hash until the pool says to drop
 * it (the pool mirrors this cache, so it stays within the pool's own compiled-module bound).
 */
const { parentPort, receiveMessageOnPort, workerData } = require('node:worker_threads');
const { openSync } = require('node:fs');
const { setPriority } = require('node:os');
const { Capture } = require('../output-capture.js');
const { seededStream } = require('./seeded-stream.js');
const { WASI, setMemory } = require('./node-wasi.js');
const { EXIT, importsFor, OutputLimitReached, WASI_MODULE } = require('./guest-imports.js');

if (!parentPort) throw new Error('v8-worker must run in a worker thread');
const port = parentPort;
/** @type {{ jobs: import('node:worker_threads').MessagePort, signal: Int32Array }} */
const { jobs, signal } = workerData;

try {
  // On Linux pid 0 is the calling thread only: guests get lower CPU priority, so the event loop always wins.
  setPriority(0, 10);
} catch (error) {
  port.postMessage({ warning: `could not lower guest thread priority: ${String(error)}` });
}

// Any stdio call we do not intercept lands on /dev/null, never on the host's real stdin/stdout/stderr.
const devNull = openSync('/dev/null', 'r+');

/**
 * @typedef {{ module: WebAssembly.Module, imports: string[], hasStart: boolean }} Cached
 *   `imports`: the names the module imports from WASI, so each call's import object holds only those.
 *   `hasStart`: the module has a start function, which runs guest code at instantiation.
 * @typedef {{ hash: string, module?: WebAssembly.Module, bytes?: Uint8Array, keep?: boolean, hasStart?: boolean,
 *   stdin: Uint8Array, args: string[], env: Record<string, string>, maxOutputBytes: number,
 *   deterministic: { seed: string } | null }} Job
 * @typedef {import('./guest-imports.js').CallState} CallState
 * @typedef {{ args: string[], env: Record<string, string>, wasi: WASI, base: Record<string, Function>,
 *   used: boolean }} Host
 *   A node:wasi instance and its import functions, for one argv and environment.
 */

/** @type {Map<string, Cached>} */
const modules = new Map();

/** What a reused host points at between calls, so it keeps no guest's memory alive. */
const NO_MEMORY = new WebAssembly.Memory({ initial: 0 });

/** The host of the last call (or the one built for the next). */
/** @type {Host | null} */
let host = null;

/**
 * The next call's instance, made while the worker is idle (after answering a call): the same module,
 * against the same host. Instantiating runs no guest code, so modules with a start function are not
 * instantiated ahead. A call that matches uses it; any other instantiates for itself.
 * @type {{ host: Host, hash: string, instance: WebAssembly.Instance, state: CallState } | null}
 */
let ahead = null;

/** @returns {Host} */
function newHost(/** @type {string[]} */ args, /** @type {Record<string, string>} */ env) {
  const wasi = new WASI({
    version: 'preview1',
    args: ['main', ...args],
    env,
    preopens: {},
    stdin: devNull,
    stdout: devNull,
    stderr: devNull,
    returnOnExit: true,
  });
  const base = /** @type {Record<string, Function>} */ (wasi.getImportObject()[WASI_MODULE]);
  return { args, env, wasi, base, used: false };
}

function sameArgs(/** @type {string[]} */ a, /** @type {string[]} */ b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameEnv(/** @type {Record<string, string>} */ a, /** @type {Record<string, string>} */ b) {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (!Object.hasOwn(b, key) || a[key] !== b[key]) return false;
  return true;
}

/** A host for this argv and environment: the last one if it fits and can run again, else a new one. */
function hostFor(/** @type {string[]} */ args, /** @type {Record<string, string>} */ env) {
  if (host && (setMemory || !host.used) && sameArgs(host.args, args) && sameEnv(host.env, env)) return host;
  host = newHost(args, env);
  return host;
}

const EMPTY = new Uint8Array(0);
const noRandom = () => Buffer.alloc(0);

/** @returns {CallState} */
function newState() {
  const unset = new Capture(0);
  return {
    stdin: EMPTY,
    stdinOffset: 0,
    stdout: unset,
    stderr: unset,
    memory: undefined,
    exitCode: 0,
    deterministic: false,
    ticks: 0n,
    sleptNs: 0n,
    random: noRandom,
  };
}

/** Runs the command; returns its exit code (0 unless it called proc_exit). Throws what the guest threw. */
function start(
  /** @type {Host} */ h,
  /** @type {WebAssembly.Instance} */ instance,
  /** @type {CallState} */ state,
) {
  h.used = true;
  try {
    if (setMemory) {
      // What wasi.start() checks, then what it does.
      const { _start, _initialize } = instance.exports;
      if (typeof _start !== 'function' || _initialize !== undefined)
        throw new TypeError('not a WASI command');
      setMemory(h.wasi, /** @type {WebAssembly.Memory} */ (state.memory));
      _start();
    } else {
      h.wasi.start(instance);
    }
  } catch (error) {
    if (error !== EXIT) throw error;
  } finally {
    if (setMemory) setMemory(h.wasi, NO_MEMORY);
  }
  return state.exitCode;
}

/** @param {Job} job @param {Cached} cached */
function execute(job, cached) {
  const h = hostFor(job.args, job.env);
  const ready = ahead;
  ahead = null; // used at most once, whatever happens
  const matches = ready !== null && ready.host === h && ready.hash === job.hash;
  const state = matches ? ready.state : newState();
  state.stdin = job.stdin;
  state.stdout = new Capture(job.maxOutputBytes);
  state.stderr = new Capture(job.maxOutputBytes);
  if (job.deterministic) {
    state.deterministic = true;
    state.random = seededStream(job.deterministic.seed);
  }
  const finish = (/** @type {string} */ end, /** @type {number | null} */ exitCode, detail = null) => ({
    end,
    exitCode,
    stdout: state.stdout.bytes(),
    stderr: state.stderr.bytes(),
    memoryBytes: state.memory ? state.memory.buffer.byteLength : null,
    detail,
  });

  let instance = matches ? ready.instance : null;
  if (!instance) {
    try {
      instance = new WebAssembly.Instance(cached.module, importsFor(cached, h.base, state));
    } catch (error) {
      return finish(
        'invalid_module',
        null,
        `cannot instantiate: ${error instanceof Error ? error.message : 'error'}`,
      );
    }
  }
  const exported = instance.exports.memory;
  if (!(exported instanceof WebAssembly.Memory))
    return finish('invalid_module', null, 'module exports no memory');
  state.memory = exported;
  try {
    return finish('exited', start(h, instance, state));
  } catch (error) {
    if (error instanceof OutputLimitReached) return finish('output_limit', null);
    // RuntimeError: unreachable, out-of-bounds access, …; RangeError: the wasm call stack overflowed.
    const detail =
      error instanceof WebAssembly.RuntimeError || error instanceof RangeError ? error.message : 'host error';
    return finish('trap', null, detail);
  }
}

/** After answering a call: the host and instance for another like it (see `ahead`). */
function prepare(/** @type {Job} */ job) {
  const h = hostFor(job.args, job.env);
  const cached = modules.get(job.hash);
  if (!cached || cached.hasStart) return;
  const state = newState();
  try {
    const instance = new WebAssembly.Instance(cached.module, importsFor(cached, h.base, state));
    ahead = { host: h, hash: job.hash, instance, state };
  } catch {
    // The call will instantiate again and report why it fails.
  }
}

/**
 * The module of a job: held here, sent compiled, or compiled here from `bytes` (synchronously: this thread
 * has no event loop, and the pool's timeout, which terminates the thread, covers the compile). A module
 * compiled here goes back to the pool for its cache. Throws V8's CompileError for bytes it refuses.
 * @param {Job} job
 */
function cachedModule(job) {
  if (job.bytes) {
    job.module = new WebAssembly.Module(job.bytes);
    job.bytes = undefined;
    if (job.keep)
      port.postMessage({
        compiled: { hash: job.hash, module: job.module, hasStart: job.hasStart !== false },
      });
  }
  if (!job.module) return modules.get(job.hash);
  const imports = WebAssembly.Module.imports(job.module)
    .filter((entry) => entry.module === WASI_MODULE)
    .map((entry) => entry.name);
  const cached = { module: job.module, imports, hasStart: job.hasStart !== false };
  if (job.keep) modules.set(job.hash, cached);
  return cached;
}

function handle(/** @type {{ run?: Job, drop?: string }} */ message) {
  if (message.drop !== undefined) {
    modules.delete(message.drop);
    if (ahead?.hash === message.drop) ahead = null; // nor keep an instance of it
    return;
  }
  const job = /** @type {Job} */ (message.run);
  let cached;
  try {
    cached = cachedModule(job);
  } catch (error) {
    const detail = `cannot compile: ${error instanceof Error ? error.message : 'error'}`;
    const result = {
      end: 'invalid_module',
      exitCode: null,
      stdout: EMPTY,
      stderr: EMPTY,
      memoryBytes: null,
      detail,
    };
    port.postMessage({ result });
    return;
  }
  if (!cached) {
    port.postMessage({ need: job.hash }); // not sent to this worker yet (or dropped): the pool resends it
    return;
  }
  const result = execute(job, cached);
  // Empty output is cloned (nothing to gain from a transfer).
  const transfer = [result.stdout, result.stderr].filter((b) => b.byteLength > 0).map((b) => b.buffer);
  port.postMessage({ result }, transfer);
  // Off the critical path: the caller already has its answer.
  prepare(job);
}

host = newHost([], {});
// This thread does nothing but run guests, so it needs no event loop: it sleeps on a futex until the pool
// posts to `jobs` and raises `signal`, a direct wake-up that costs less than a round of the event loop.
// (worker.terminate() interrupts the wait like it interrupts a guest.)
// Before sleeping, poll the signal for up to 200 µs: a call that follows soon (the common case under load)
// then starts without a futex wake-up on an idle core, which on this VM made warm calls bimodal (0.09 or
// 0.3 ms). The cost is at most 200 µs of nice-10 CPU after each job; an idle worker sleeps.
const SPIN_NS = 200_000n;
for (;;) {
  const spinUntil = process.hrtime.bigint() + SPIN_NS;
  while (Atomics.load(signal, 0) === 0 && process.hrtime.bigint() < spinUntil);
  Atomics.wait(signal, 0, 0);
  Atomics.store(signal, 0, 0);
  for (let next = receiveMessageOnPort(jobs); next; next = receiveMessageOnPort(jobs)) handle(next.message);
}
