// @ts-check
/*
 * One proof, in its own thread (see prover.ts): snarkjs `fullProve` (witness, then the proof) for the protocol
 * the circuit was registered with. Plain CommonJS JavaScript on purpose, like the verifier thread: the same file
 * runs under ts-jest (from src/) and from the build (nest copies it to dist/src/).
 */
'use strict';

const { parentPort, workerData } = require('node:worker_threads');
const {
  installSingleThreadCurve,
  loadSnarkjs,
  PROTOCOLS,
  SILENT_LOGGER: logger,
} = require('../common/zk/snarkjs-thread');

const snarkjs = loadSnarkjs();

async function prove() {
  const { protocol, inputs, wasm, zkey } = workerData;
  if (!PROTOCOLS.has(protocol)) return { error: `unsupported protocol ${protocol}` };
  // The thread is terminated on timeout or cancel: its one curve goes with it.
  await installSingleThreadCurve(snarkjs);
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
