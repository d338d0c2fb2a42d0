// @ts-check
/*
 * One proof, in its own thread (see prover.ts): snarkjs `fullProve` (witness, then the proof) for the protocol
 * the circuit was registered with. Plain CommonJS JavaScript on purpose, like the verifier thread: the same file
 * runs under ts-jest (from src/) and from the build (nest copies it to dist/src/).
 */
'use strict';

const Module = require('node:module');
const { dirname } = require('node:path');
const { parentPort, workerData } = require('node:worker_threads');

/*
 * ffjavascript requires the `web-worker` package, which, loaded on any thread but the main one, assumes it is
 * a web-worker child and crashes reading its workerData. Our curve is single-threaded and never starts one.
 */
function stubWebWorker() {
  const ffjavascript = require.resolve('ffjavascript', { paths: [dirname(require.resolve('snarkjs'))] });
  const path = require.resolve('web-worker', { paths: [dirname(ffjavascript)] });
  const stub = new Module(path);
  stub.filename = path;
  stub.loaded = true;
  stub.exports = class NoWorker {
    constructor() {
      throw new Error('snarkjs worker threads are disabled inside a prover thread');
    }
  };
  require.cache[path] = stub;
}
stubWebWorker();
const snarkjs = require('snarkjs');

const PROTOCOLS = new Set(['groth16', 'plonk', 'fflonk']);
const logger = { debug() {}, info() {}, warn() {}, error() {} };

async function prove() {
  const { protocol, inputs, wasm, zkey } = workerData;
  if (!PROTOCOLS.has(protocol)) return { error: `unsupported protocol ${protocol}` };
  // One single-threaded curve for this thread: snarkjs looks it up in globalThis.curve_bn128. The thread is
  // the unit of isolation (terminated on timeout or cancel), so the curve's own threads are not wanted.
  /** @type {any} */ (globalThis).curve_bn128 = await snarkjs.curves.getCurveFromName('bn128', {
    singleThread: true,
  });
  try {
    const { proof, publicSignals } = await snarkjs[protocol].fullProve(
      inputs,
      { type: 'mem', data: new Uint8Array(wasm) },
      { type: 'mem', data: new Uint8Array(zkey) },
      logger,
    );
    return { proof, publicSignals };
  } catch (error) {
    // A witness that fails the circuit's constraints (or inputs it cannot read) is the task's own fault.
    return { failed: error instanceof Error ? error.message : String(error) };
  } finally {
    await /** @type {any} */ (globalThis).curve_bn128?.terminate();
  }
}

prove().then(
  (result) => parentPort?.postMessage(result),
  (error) => parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) }),
);
