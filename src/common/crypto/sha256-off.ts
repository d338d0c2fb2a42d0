import { webcrypto } from 'node:crypto';

/**
 * SHA-256 hex computed by WebCrypto, which hashes on libuv's thread pool instead of the event loop: a module
 * of tens of MiB would otherwise hold every other request for tens of milliseconds.
 */
export async function sha256Off(bytes: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)).toString(
    'hex',
  );
}
