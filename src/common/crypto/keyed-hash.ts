import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * HMAC-SHA256 of a high-entropy secret (refresh token, API key) under a server-side pepper, as lowercase hex.
 * A plain hash would do against guessing, but the pepper means a leaked table alone cannot even confirm a
 * token; HMAC (not bcrypt) because the input already has ≥ 256 bits of entropy and lookups must be indexable.
 */
export function keyedHash(secret: string, pepper: string): string {
  return createHmac('sha256', pepper).update(secret, 'utf8').digest('hex');
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
