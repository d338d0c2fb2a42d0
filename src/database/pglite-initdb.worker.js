// @ts-check
/*
 * One-shot thread that creates a new embedded data dir (PGlite runs initdb) and closes it again. The instance
 * that ran initdb keeps initdb's memory (~400 MB resident on Node 20) until a full collection; a thread's memory
 * is given back whole when the thread ends, so the instance that serves opens on the files alone.
 * Plain CommonJS like the proof workers.
 */
'use strict';

const { parentPort, workerData } = require('node:worker_threads');

async function main() {
  const { dataDir, startParams } = /** @type {{ dataDir: string, startParams: string[] }} */ (workerData);
  const { PGlite } = await import('@electric-sql/pglite');
  const pglite = await PGlite.create({ dataDir, startParams });
  await pglite.close();
}

main().then(
  () => parentPort?.postMessage({ done: true }),
  (error) => parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) }),
);
