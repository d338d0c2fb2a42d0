// @ts-check
/*
 * A verifier thread of VerifierPool (piscina). Plain CommonJS JavaScript on purpose: the same file runs
 * under ts-jest (from src/) and from the build (nest copies it to dist/src/), with no loader in the thread.
 */
'use strict';

const Module = require('node:module');
const { dirname } = require('node:path');
const { performance } = require('node:perf_hooks');

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
      throw new Error('snarkjs worker threads are disabled inside a verifier thread');
    }
  };
  require.cache[path] = stub;
}
stubWebWorker();
const snarkjs = require('snarkjs');

const PROTOCOLS = new Set(['groth16', 'plonk', 'fflonk']);
// Some snarkjs failure paths call logger.error unconditionally; a silent logger keeps them returning false.
const logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * @param {{ protocol: string, vkey: unknown, publicSignals: string[], proof: unknown }} task
 * @returns {Promise<{ valid: boolean, ms: number } | { error: string, ms: number }>}
 */
async function verify(task) {
  const started = performance.now();
  if (!PROTOCOLS.has(task.protocol)) return { error: 'unsupported protocol', ms: 0 };
  try {
    const valid = await snarkjs[task.protocol].verify(task.vkey, task.publicSignals, task.proof, logger);
    return { valid: valid === true, ms: performance.now() - started };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error), ms: performance.now() - started };
  }
}

async function init() {
  // One bn128 curve per thread, built once (40-60 ms) and kept: snarkjs's verify looks the curve up in
  // globalThis.curve_bn128. Single-threaded, because the pool already spans the cores: snarkjs's default curve
  // would start its own worker threads inside each of ours and oversubscribe the machine.
  /** @type {any} */ (globalThis).curve_bn128 = await snarkjs.curves.getCurveFromName('bn128', {
    singleThread: true,
  });
  return verify;
}

// piscina awaits an exported promise before handing the thread its first task.
module.exports = init();
