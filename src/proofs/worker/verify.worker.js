// @ts-check
/*
 * A verifier thread of VerifierPool (piscina). Plain CommonJS JavaScript on purpose: the same file runs
 * under ts-jest (from src/) and from the build (nest copies it to dist/src/), with no loader in the thread.
 */
'use strict';

const { performance } = require('node:perf_hooks');
const {
  installSingleThreadCurve,
  loadSnarkjs,
  PROTOCOLS,
  SILENT_LOGGER: logger,
} = require('../../common/zk/snarkjs-thread');

const snarkjs = loadSnarkjs();

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
  // One bn128 curve per thread, built once (40-60 ms) and kept. Single-threaded, because the pool already
  // spans the cores: snarkjs's default curve would start its own threads inside each of ours.
  await installSingleThreadCurve(snarkjs);
  return verify;
}

// piscina awaits an exported promise before handing the thread its first task.
module.exports = init();
