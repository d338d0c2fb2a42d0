// @ts-check
'use strict';
/*
 * The v8 runtime's worker thread: runs one WASI command at a time with node:wasi. Plain JavaScript so the
 * same file runs from src/ (tests) and dist/ (copied by nest-cli assets) without a TypeScript loader.
 *
 * node:wasi is not a sandbox by itself (Node's docs say so); isolation comes from V8's wasm sandbox plus
 * giving the guest nothing: no preopened directories, an explicit environment, no sockets, and stdio that
 * never touches the host's descriptors.
 */
const { parentPort } = require('node:worker_threads');
const { WASI } = require('node:wasi');
const { openSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { setPriority } = require('node:os');

if (!parentPort) throw new Error('v8-worker must run in a worker thread');
const port = parentPort;

try {
  // On Linux pid 0 is the calling thread only: guests get lower CPU priority, so the event loop always wins.
  setPriority(0, 10);
} catch (error) {
  port.postMessage({ warning: `could not lower guest thread priority: ${String(error)}` });
}

// Any stdio call we do not intercept lands on /dev/null, never on the host's real stdin/stdout/stderr.
const devNull = openSync('/dev/null', 'r+');
// 2023-11-14T22:13:20Z: a fixed, recognisable epoch for deterministic runs.
const DETERMINISTIC_EPOCH_NS = 1_700_000_000_000_000_000n;
const TICK_NS = 1_000_000n;
const ESUCCESS = 0;
const EBADF = 8;

class OutputLimitReached extends Error {}

/** Collects up to `max` bytes; past it, records the overflow and stops the guest. */
class Capture {
  /** @param {number} max */
  constructor(max) {
    this.max = max;
    this.length = 0;
    /** @type {Uint8Array[]} */
    this.chunks = [];
  }

  /** @param {Uint8Array} bytes */
  push(bytes) {
    const room = this.max - this.length;
    if (bytes.length > room) {
      if (room > 0) this.chunks.push(bytes.slice(0, room));
      this.length = this.max;
      throw new OutputLimitReached();
    }
    this.chunks.push(bytes.slice());
    this.length += bytes.length;
  }

  bytes() {
    // A fresh ArrayBuffer (not Node's shared Buffer pool), so it can be transferred to the main thread.
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

/** A reproducible byte stream: SHA-256(seed ‖ counter) blocks. */
function seededStream(/** @type {string} */ seed) {
  let counter = 0;
  let block = Buffer.alloc(0);
  return (/** @type {number} */ length) => {
    const out = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      if (block.length === 0) block = createHash('sha256').update(`${seed}:${counter++}`).digest();
      const n = Math.min(block.length, length - filled);
      block.copy(out, filled, 0, n);
      block = block.subarray(n);
      filled += n;
    }
    return out;
  };
}

/**
 * @param {{ module: WebAssembly.Module, stdin: Uint8Array, args: string[], env: Record<string, string>,
 *   maxOutputBytes: number, deterministic: { seed: string } | null }} job
 */
function execute(job) {
  const wasi = new WASI({
    version: 'preview1',
    args: ['main', ...job.args],
    env: job.env,
    preopens: {},
    stdin: devNull,
    stdout: devNull,
    stderr: devNull,
    returnOnExit: true,
  });
  const base = /** @type {Record<string, Function>} */ (wasi.getImportObject().wasi_snapshot_preview1);
  /** @type {WebAssembly.Memory | undefined} */
  let memory;
  const mem = () => {
    if (!memory) throw new Error('memory not ready');
    return memory.buffer;
  };
  const stdout = new Capture(job.maxOutputBytes);
  const stderr = new Capture(job.maxOutputBytes);
  let stdinOffset = 0;

  /** @type {Record<string, Function>} */
  const imports = { ...base };
  imports.fd_write = (/** @type {number[]} */ ...a) => {
    const [fd, iovs, iovsLen, nwrittenPtr] = a;
    if (fd !== 1 && fd !== 2) return base.fd_write(...a);
    const view = new DataView(mem());
    let written = 0;
    for (let i = 0; i < iovsLen; i++) {
      const ptr = view.getUint32(iovs + i * 8, true);
      const len = view.getUint32(iovs + i * 8 + 4, true);
      (fd === 1 ? stdout : stderr).push(new Uint8Array(mem(), ptr, len));
      written += len;
    }
    view.setUint32(nwrittenPtr, written, true);
    return ESUCCESS;
  };
  imports.fd_read = (/** @type {number[]} */ ...a) => {
    const [fd, iovs, iovsLen, nreadPtr] = a;
    if (fd !== 0) return base.fd_read(...a);
    const view = new DataView(mem());
    let read = 0;
    for (let i = 0; i < iovsLen && stdinOffset < job.stdin.length; i++) {
      const ptr = view.getUint32(iovs + i * 8, true);
      const len = view.getUint32(iovs + i * 8 + 4, true);
      const chunk = job.stdin.subarray(stdinOffset, stdinOffset + len);
      new Uint8Array(mem(), ptr, chunk.length).set(chunk);
      stdinOffset += chunk.length;
      read += chunk.length;
    }
    view.setUint32(nreadPtr, read, true);
    return ESUCCESS;
  };
  if (job.deterministic) {
    // Same module + same input ⇒ same bytes out: the clock starts at a fixed epoch and advances one tick
    // per read, and random_get is a stream seeded by the caller, so nothing of the host leaks in.
    let ticks = 0n;
    const random = seededStream(job.deterministic.seed);
    imports.clock_time_get = (
      /** @type {number} */ id,
      /** @type {bigint} */ _precision,
      /** @type {number} */ ptr,
    ) => {
      if (id > 3) return EBADF;
      new DataView(mem()).setBigUint64(ptr, DETERMINISTIC_EPOCH_NS + ticks++ * TICK_NS, true);
      return ESUCCESS;
    };
    imports.clock_res_get = (/** @type {number} */ id, /** @type {number} */ ptr) => {
      if (id > 3) return EBADF;
      new DataView(mem()).setBigUint64(ptr, TICK_NS, true);
      return ESUCCESS;
    };
    imports.random_get = (/** @type {number} */ ptr, /** @type {number} */ len) => {
      new Uint8Array(mem(), ptr, len).set(random(len));
      return ESUCCESS;
    };
  }

  const finish = (/** @type {string} */ end, /** @type {number | null} */ exitCode, detail = null) => ({
    end,
    exitCode,
    stdout: stdout.bytes(),
    stderr: stderr.bytes(),
    memoryBytes: memory ? memory.buffer.byteLength : null,
    detail,
  });

  let instance;
  try {
    instance = new WebAssembly.Instance(job.module, { wasi_snapshot_preview1: imports });
  } catch (error) {
    return finish(
      'invalid_module',
      null,
      `cannot instantiate: ${error instanceof Error ? error.message : 'error'}`,
    );
  }
  const exported = instance.exports.memory;
  if (!(exported instanceof WebAssembly.Memory))
    return finish('invalid_module', null, 'module exports no memory');
  memory = exported;
  try {
    const code = wasi.start(instance);
    return finish('exited', code);
  } catch (error) {
    if (error instanceof OutputLimitReached) return finish('output_limit', null);
    // RuntimeError: unreachable, out-of-bounds access, …; RangeError: the wasm call stack overflowed.
    const detail =
      error instanceof WebAssembly.RuntimeError || error instanceof RangeError ? error.message : 'host error';
    return finish('trap', null, detail);
  }
}

port.on('message', (job) => {
  const result = execute(job);
  port.postMessage({ result }, [result.stdout.buffer, result.stderr.buffer]);
});
