import { sha256Off } from '../common/crypto/sha256-off';

const HASHED: unique symbol = Symbol('hashed');

/**
 * Bytes with their SHA-256, made only by `hashContent` (the brand is not exported, so no other code can
 * write one without a cast): a store given one trusts its digest and does not hash again, because the digest
 * was computed from these very bytes in this process, never taken from a client. And a wrong one could not
 * serve other bytes: every read is verified against the id, so it could only make the object unreadable.
 */
export interface HashedContent {
  readonly bytes: Uint8Array;
  readonly sha256: string;
  readonly [HASHED]: true;
}

/** Hashes once (on libuv's thread pool: a module is up to tens of MiB). */
export async function hashContent(bytes: Uint8Array): Promise<HashedContent> {
  return { bytes, sha256: await sha256Off(bytes), [HASHED]: true };
}

/** The content as HashedContent, hashing plain bytes. */
export function hashedContent(content: Uint8Array | HashedContent): Promise<HashedContent> | HashedContent {
  return content instanceof Uint8Array ? hashContent(content) : content;
}

/** The bytes, whether hashed yet or not. */
export function bytesOf(content: Uint8Array | HashedContent): Uint8Array {
  return content instanceof Uint8Array ? content : content.bytes;
}
