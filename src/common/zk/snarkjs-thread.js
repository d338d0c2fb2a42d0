// @ts-check
/*
 * snarkjs inside a worker thread, shared by the server's verifier threads (src/proofs/worker/verify.worker.js)
 * and the agent's prover thread (src/agent/prove.worker.js). Plain CommonJS JavaScript like them: the same
 * file runs under ts-jest (from src/) and from the build (nest copies it to dist/src/).
 */
'use strict';

const Module = require('node:module');
const { dirname } = require('node:path');

/*
 * ffjavascript (snarkjs's field library) requires the `web-worker` package, which, when loaded on any thread
 * but the main one, assumes it *is* a web-worker child and crashes reading its workerData. Our curve is
 * single-threaded and never starts a Worker, so the module is pre-seeded with a stand-in that refuses to.
 */
function stubWebWorker() {
  const ffjavascript = require.resolve('ffjavascript', { paths: [dirname(require.resolve('snarkjs'))] });
  const path = require.resolve('web-worker', { paths: [dirname(ffjavascript)] });
  const stub = new Module(path);
  stub.filename = path;
  stub.loaded = true;
  stub.exports = class NoWorker {
    constructor() {
      throw new Error('snarkjs worker threads are disabled inside a proof thread');
    }
  };
  require.cache[path] = stub;
}

/** snarkjs, loaded after the stub. */
function loadSnarkjs() {
  stubWebWorker();
  return require('snarkjs');
}

/**
 * One single-threaded bn128 curve for this thread, where snarkjs looks it up (globalThis.curve_bn128): the
 * thread is the unit of parallelism and isolation, so the curve's own worker threads are not wanted.
 * @param {any} snarkjs
 */
async function installSingleThreadCurve(snarkjs) {
  /** @type {any} */ (globalThis).curve_bn128 = await snarkjs.curves.getCurveFromName('bn128', {
    singleThread: true,
  });
}

const PROTOCOLS = new Set(['groth16', 'plonk', 'fflonk']);
// Some snarkjs failure paths call logger.error unconditionally; a silent logger keeps them quiet.
const SILENT_LOGGER = { debug() {}, info() {}, warn() {}, error() {} };

module.exports = { loadSnarkjs, installSingleThreadCurve, PROTOCOLS, SILENT_LOGGER };
