// @ts-check
'use strict';
/*
 * node:wasi for the guest worker (v8-worker.js): the WASI class and its memory setter.
 *
 * Loaded with Node's one-time "ExperimentalWarning: WASI is an experimental
 * feature" filtered (a non-JSON line in the JSON log; see loadWasiQuietly in v8.runtime.ts). Node 20 warns when
 * the module loads, others on the first construction: both happen here. Every other warning still passes.
 */
const emitWarning = process.emitWarning;
process.emitWarning = /** @type {typeof process.emitWarning} */ (
  (/** @type {string | Error} */ warning, /** @type {unknown[]} */ ...rest) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    const type =
      typeof rest[0] === 'string' ? rest[0] : /** @type {{ type?: string }} */ (rest[0] ?? {}).type;
    if (type === 'ExperimentalWarning' && text.startsWith('WASI ')) return;
    /** @type {Function} */ (emitWarning).call(process, warning, ...rest);
  }
);
/** @type {typeof import('node:wasi').WASI} */
let WASI;
/** @type {import('node:wasi').WASI} */
let probe;
try {
  WASI = require('node:wasi').WASI;
  probe = new WASI({ version: 'preview1' });
} finally {
  process.emitWarning = emitWarning;
}

/**
 * node:wasi's memory setter. `wasi.start()` runs one command per WASI instance, and building an instance
 * (native state plus ~45 bound functions) costs more than running a small guest; with the setter a host is
 * pointed at each guest's memory in turn and reused while argv and environment stay the same. Nothing of
 * one guest reaches the next: the only state node:wasi keeps is the stdio table, and every call that
 * would change it (or the descriptor behind it) is refused in v8-worker.js. The setter is not public API,
 * so when a Node.js release hides it, every call falls back to a fresh host and `start()` (null here).
 */
const setMemory = (() => {
  const symbol = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'kSetMemory');
  const setter = symbol && /** @type {Record<symbol, unknown>} */ (/** @type {unknown} */ (probe))[symbol];
  if (typeof setter !== 'function') return null;
  return (/** @type {import('node:wasi').WASI} */ wasi, /** @type {WebAssembly.Memory} */ memory) =>
    /** @type {Record<symbol, (memory: WebAssembly.Memory) => void>} */ (/** @type {unknown} */ (wasi))[
      /** @type {symbol} */ (symbol)
    ](memory);
})();

module.exports = { WASI, setMemory };
