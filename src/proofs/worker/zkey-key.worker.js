// @ts-check
/*
 * One-shot thread for circuit registration: the verification key a proving key (.zkey) yields, so the registry
 * can refuse a zkey that does not belong to the key it registers. Plain CommonJS like verify.worker.js.
 */
'use strict';

const { parentPort, workerData } = require('node:worker_threads');
const { installSingleThreadCurve, loadSnarkjs, SILENT_LOGGER } = require('../../common/zk/snarkjs-thread');

async function main() {
  const snarkjs = loadSnarkjs();
  await installSingleThreadCurve(snarkjs);
  const zkey = /** @type {Uint8Array} */ (workerData);
  return snarkjs.zKey.exportVerificationKey({ type: 'mem', data: zkey }, SILENT_LOGGER);
}

main().then(
  (vkey) => parentPort?.postMessage({ vkey }),
  (error) => parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) }),
);
