import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  API_KEY_BODY_LENGTH,
  API_KEY_CHECKSUM_LENGTH,
  API_KEY_PREFIX,
} from '../common/auth/credentials-in-url';

/**
 * `vcp_` + 40 base62 characters from the CSPRNG (40·log2(62) ≈ 238 bits) + 6 base62 characters of the CRC32 of
 * those 40. The checksum lets us reject a mistyped or made-up key before any database work, and lets secret
 * scanners recognise a real key with few false positives (GitHub's token format).
 */
export { API_KEY_PREFIX };
const BODY_LENGTH = API_KEY_BODY_LENGTH;
const CHECKSUM_LENGTH = API_KEY_CHECKSUM_LENGTH;
export const API_KEY_LENGTH = API_KEY_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH;
/** What is stored and shown to identify a key: the first 12 characters (prefix + 8 random characters). */
export const DISPLAY_PREFIX_LENGTH = 12;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SHAPE = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}$`);

function toBase62(value: number, width: number): string {
  let out = '';
  for (let rest = value; rest > 0; rest = Math.floor(rest / 62)) out = ALPHABET[rest % 62] + out;
  return out.padStart(width, '0');
}

/** Uniform base62 characters: bytes ≥ 248 are dropped (rejection sampling) so no character is favoured. */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

function checksum(body: string): string {
  return toBase62(crc32(body), CHECKSUM_LENGTH);
}

export function generateApiKey(): string {
  const body = randomBase62(BODY_LENGTH);
  return `${API_KEY_PREFIX}${body}${checksum(body)}`;
}

/** Shape and checksum only; says nothing about whether the key exists. */
export function isWellFormedApiKey(candidate: string): boolean {
  if (!SHAPE.test(candidate)) return false;
  const body = candidate.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + BODY_LENGTH);
  return checksum(body) === candidate.slice(-CHECKSUM_LENGTH);
}

export function displayPrefix(key: string): string {
  return key.slice(0, DISPLAY_PREFIX_LENGTH);
}
