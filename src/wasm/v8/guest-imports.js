// @ts-check
'use strict';
/*
 * What a guest of the v8 runtime can call (v8-worker.js): node:wasi's functions where they touch nothing of
 * the host, replacements where they would, and a refusal for everything else.
 *
 * node:wasi is not a sandbox (Node's docs say so). Its stdio descriptors are the worker's /dev/null, which
 * uvwasi names with the relative paths `<stdin>`, `<stdout>` and `<stderr>` and gives every right a
 * character device has, path rights included: path_symlink and path_open on fd 0 reached the process's working
 * directory and, through a symlink the guest made, any file of the host (the server's secrets, an agent's node
 * key). So the guest gets an allowlist: a name below that is neither passed through nor replaced is refused.
 */

/**
 * @typedef {import('../output-capture.js').Capture} Capture
 * @typedef {{ stdin: Uint8Array, stdinOffset: number, stdout: Capture, stderr: Capture,
 *   memory: WebAssembly.Memory | undefined, exitCode: number, deterministic: boolean, ticks: bigint,
 *   sleptNs: bigint, random: (length: number) => Buffer }} CallState
 *   What the import functions of one instance read; filled in when its call starts.
 */

const WASI_MODULE = 'wasi_snapshot_preview1';
// 2023-11-14T22:13:20Z: a fixed, recognisable epoch for deterministic runs.
const DETERMINISTIC_EPOCH_NS = 1_700_000_000_000_000_000n;
const TICK_NS = 1_000_000n;
const ESUCCESS = 0;
const EBADF = 8;
const EINVAL = 28;
const ENOTSUP = 58;
const ENOTCAPABLE = 76;
const FILETYPE_CHARACTER_DEVICE = 2;
const SUBSCRIPTION_BYTES = 48;
const EVENT_BYTES = 32;

class OutputLimitReached extends Error {}
/** Thrown by proc_exit to unwind the guest; the code is in the call's state. */
const EXIT = Symbol('proc_exit');

/**
 * node:wasi's own functions a guest may call as they are: they read or write only the guest's memory, the
 * stdio descriptors (the worker's /dev/null, where not replaced below) or the clock and random source. Not its
 * reads and writes: given a huge iovec count, node:wasi built arrays of that size in native code (1.7 GB and
 * ~5 s a call, past the run's timeout, which cannot interrupt it).
 */
const PASSED_THROUGH = new Set([
  'args_get',
  'args_sizes_get',
  'environ_get',
  'environ_sizes_get',
  'fd_advise',
  'fd_datasync',
  'fd_fdstat_get',
  'fd_prestat_dir_name',
  'fd_prestat_get',
  'fd_seek',
  'fd_sync',
  'fd_tell',
  'sched_yield',
  'clock_res_get',
  'clock_time_get',
  'random_get',
]);

/** Descriptors are u32 in WASI; the i32 a guest passes may look negative here. */
const isStdio = (/** @type {number} */ fd) => fd >>> 0 <= 2;
const refused = () => ENOTCAPABLE;
/** Sleeps in poll_oneoff wait on this, which nothing wakes: worker.terminate() interrupts the wait. */
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * The import object of one instance: the allowlisted node:wasi functions, with these replaced: stdio reads and
 * writes (served from memory), the clock and random source of deterministic calls, proc_exit, poll_oneoff, and
 * every call that would reach beyond the guest (below). Only the names the module imports are copied: copying
 * all of node:wasi's costs more than running a small guest.
 * @param {{ imports: string[] }} cached @param {Record<string, Function>} base @param {CallState} state
 */
function importsFor(cached, base, state) {
  const mem = () => {
    if (!state.memory) throw new Error('memory not ready');
    return state.memory.buffer;
  };
  /** The clock a deterministic call reads: its epoch, one tick per read, plus the time it slept. */
  const virtualNow = () => DETERMINISTIC_EPOCH_NS + state.ticks * TICK_NS + state.sleptNs;
  /** @type {Record<string, Function>} */
  const overrides = {
    fd_write: (/** @type {number[]} */ ...a) => {
      const [fd, iovs, iovsLen, nwrittenPtr] = a;
      if (fd !== 1 && fd !== 2) return EBADF; // stdin is not open for writing; no other descriptor exists
      const view = new DataView(mem());
      let written = 0;
      for (let i = 0; i < iovsLen; i++) {
        const ptr = view.getUint32(iovs + i * 8, true);
        const len = view.getUint32(iovs + i * 8 + 4, true);
        if (!(fd === 1 ? state.stdout : state.stderr).push(new Uint8Array(mem(), ptr, len)))
          throw new OutputLimitReached();
        written += len;
      }
      view.setUint32(nwrittenPtr, written, true);
      return ESUCCESS;
    },
    fd_read: (/** @type {number[]} */ ...a) => {
      const [fd, iovs, iovsLen, nreadPtr] = a;
      if (fd !== 0) return EBADF; // stdout and stderr are not open for reading; no other descriptor exists
      const view = new DataView(mem());
      const stdin = state.stdin;
      let read = 0;
      for (let i = 0; i < iovsLen && state.stdinOffset < stdin.length; i++) {
        const ptr = view.getUint32(iovs + i * 8, true);
        const len = view.getUint32(iovs + i * 8 + 4, true);
        const chunk = stdin.subarray(state.stdinOffset, state.stdinOffset + len);
        new Uint8Array(mem(), ptr, chunk.length).set(chunk);
        state.stdinOffset += chunk.length;
        read += chunk.length;
      }
      view.setUint32(nreadPtr, read, true);
      return ESUCCESS;
    },
    // node:wasi's would tell the host's /dev/null (device, inode, times): a stat of no host's file.
    fd_filestat_get: (/** @type {number} */ fd, /** @type {number} */ ptr) => {
      if (!isStdio(fd)) return EBADF;
      new Uint8Array(mem(), ptr, 64).fill(0);
      const view = new DataView(mem());
      view.setUint8(ptr + 16, FILETYPE_CHARACTER_DEVICE);
      view.setBigUint64(ptr + 24, 1n, true); // nlink
      return ESUCCESS;
    },
    // node:wasi's sleeps in native code, which worker.terminate() cannot interrupt: a guest sleeping past
    // its timeout kept its thread and memory for good, and the process could not exit.
    poll_oneoff: (
      /** @type {number} */ inPtr,
      /** @type {number} */ outPtr,
      /** @type {number} */ count,
      /** @type {number} */ countPtr,
    ) => pollOneoff(new DataView(mem()), { inPtr, outPtr, count, countPtr }, state, virtualNow),
    proc_exit: (/** @type {number} */ code) => {
      state.exitCode = code;
      throw EXIT;
    },
    // node:wasi sends the signal to the host process: proc_raise(9) would SIGKILL the server.
    proc_raise: () => ENOTSUP,
    // node:wasi closes the host descriptor behind a guest's stdio, the worker's one /dev/null: later calls
    // would fail, and the number could be reused by the host for a file or a socket that the next guest's
    // stdio would then reach. Closing stdio is a no-op; no other descriptor can exist (no preopens, no paths).
    fd_close: (/** @type {number} */ fd) => (isStdio(fd) ? ESUCCESS : EBADF),
    // Same module + same input ⇒ same bytes out: in deterministic calls the clock starts at a fixed epoch
    // and advances one tick per read, and random_get is a stream seeded by the caller, so nothing of the
    // host leaks in.
    clock_time_get: (
      /** @type {number} */ id,
      /** @type {bigint} */ precision,
      /** @type {number} */ ptr,
    ) => {
      if (!state.deterministic) return base.clock_time_get(id, precision, ptr);
      if (id >>> 0 > 3) return EBADF;
      new DataView(mem()).setBigUint64(ptr, virtualNow(), true);
      state.ticks++;
      return ESUCCESS;
    },
    clock_res_get: (/** @type {number} */ id, /** @type {number} */ ptr) => {
      if (!state.deterministic) return base.clock_res_get(id, ptr);
      if (id >>> 0 > 3) return EBADF;
      new DataView(mem()).setBigUint64(ptr, TICK_NS, true);
      return ESUCCESS;
    },
    random_get: (/** @type {number} */ ptr, /** @type {number} */ len) => {
      if (!state.deterministic) return base.random_get(ptr, len);
      new Uint8Array(mem(), ptr, len).set(state.random(len));
      return ESUCCESS;
    },
  };
  /** @type {Record<string, Function>} */
  const imports = {};
  for (const name of cached.imports) {
    if (Object.hasOwn(overrides, name)) imports[name] = overrides[name];
    else if (PASSED_THROUGH.has(name) && typeof base[name] === 'function') imports[name] = base[name];
    // Paths (there is no directory to resolve them in), sockets, fd_readdir, fd_renumber, the descriptor
    // setters, and any name node:wasi may add: refused, as for a guest with no capability for them.
    else imports[name] = refused;
  }
  return { [WASI_MODULE]: imports };
}

/**
 * poll_oneoff over what a guest has: stdio is always ready (stdin is in memory, output is captured), other
 * descriptors do not exist; with no descriptor to report, it sleeps until the first clock subscription is due,
 * on a futex that worker.terminate() interrupts (the run's timeout still ends it).
 * @param {DataView} view
 * @param {{ inPtr: number, outPtr: number, count: number, countPtr: number }} call
 * @param {CallState} state
 * @param {() => bigint} virtualNow
 */
function pollOneoff(view, { inPtr, outPtr, count, countPtr }, state, virtualNow) {
  if (count === 0) return EINVAL;
  let events = 0;
  /** @type {{ userdata: bigint, ns: bigint } | null} */
  let due = null;
  for (let i = 0; i < count; i++) {
    const at = inPtr + i * SUBSCRIPTION_BYTES;
    const userdata = view.getBigUint64(at, true);
    const tag = view.getUint8(at + 8);
    if (tag === 0) {
      const id = view.getUint32(at + 16, true);
      if (id > 3) return EINVAL; // read as unsigned
      const timeout = view.getBigUint64(at + 24, true);
      const absolute = (view.getUint16(at + 40, true) & 1) !== 0;
      const now = state.deterministic
        ? virtualNow()
        : id === 0
          ? BigInt(Date.now()) * 1_000_000n
          : process.hrtime.bigint();
      const ns = absolute ? (timeout > now ? timeout - now : 0n) : timeout;
      if (due === null || ns < due.ns) due = { userdata, ns };
    } else if (tag === 1 || tag === 2) {
      const fd = view.getUint32(at + 16, true);
      const event = outPtr + events++ * EVENT_BYTES;
      new Uint8Array(view.buffer, event, EVENT_BYTES).fill(0);
      view.setBigUint64(event, userdata, true);
      view.setUint16(event + 8, isStdio(fd) ? ESUCCESS : EBADF, true);
      view.setUint8(event + 10, tag);
      const unread = tag === 1 && fd === 0 ? state.stdin.length - state.stdinOffset : 0;
      view.setBigUint64(event + 16, BigInt(unread), true);
    } else {
      return EINVAL;
    }
  }
  if (events === 0 && due !== null) {
    Atomics.wait(sleeper, 0, 0, Number(due.ns) / 1e6);
    if (state.deterministic) state.sleptNs += due.ns;
    const event = outPtr;
    new Uint8Array(view.buffer, event, EVENT_BYTES).fill(0);
    view.setBigUint64(event, due.userdata, true);
    events = 1;
  }
  view.setUint32(countPtr, events, true);
  return ESUCCESS;
}

module.exports = { importsFor, OutputLimitReached, EXIT, WASI_MODULE };
