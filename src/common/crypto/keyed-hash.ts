import { createHmac, createSecretKey, KeyObject, randomBytes, timingSafeEqual } from 'node:crypto';
import { LruCache } from '../cache/lru-cache';

/** Peppers come from configuration: a handful per process (tests make more), so a small cache bounds this. */
const pepperKeys = new LruCache<string, KeyObject>({ maxEntries: 16 });

/**
 * The pepper as a KeyObject, built once: createHmac with a string key imports it anew on every call, about a
 * third of the HMAC's cost on the API-key hot path (3.0 → 2.0 µs per hash on the 2-core machine).
 */
function pepperKey(pepper: string): KeyObject {
  let key = pepperKeys.get(pepper);
  if (!key) {
    key = createSecretKey(Buffer.from(pepper, 'utf8'));
    pepperKeys.set(pepper, key);
  }
  return key;
}

/**
 * HMAC-SHA256 of a high-entropy secret (refresh token, API key) under a server-side pepper, as lowercase hex.
 * A plain hash would do against guessing, but the pepper means a leaked table alone cannot even confirm a
 * token; HMAC (not bcrypt) because the input already has ≥ 256 bits of entropy and lookups must be indexable.
 */
export function keyedHash(secret: string, pepper: string): string {
  return createHmac('sha256', pepperKey(pepper)).update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of two strings (false for different lengths, without an early exit on content). */
export function constantTimeEquals(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

/** An opaque random token: `prefix` + base64url of `bytes` CSPRNG bytes. */
export function randomToken(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}
