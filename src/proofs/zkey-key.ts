import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const ZKEY_KEY_WORKER_FILE = join(__dirname, 'worker', 'zkey-key.worker.js');
/** A zkey of the largest allowed size reads its key sections in well under this; a hung read is refused. */
const TIMEOUT_MS = 60_000;

/**
 * The verification key a proving key yields (snarkjs's `zkey export verificationkey`), read in a thread of its
 * own so the event loop never waits on the curve. Rejects with the reason when the bytes are not a zkey.
 */
export function verificationKeyOfZkey(zkey: Buffer): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(ZKEY_KEY_WORKER_FILE, { workerData: new Uint8Array(zkey) });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error('reading the zkey took too long'));
    }, TIMEOUT_MS);
    const finish = () => {
      clearTimeout(timer);
      void worker.terminate();
    };
    worker.once('message', (message: { vkey?: unknown; error?: string }) => {
      finish();
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve(message.vkey);
    });
    worker.once('error', (error) => {
      finish();
      reject(error);
    });
  });
}
