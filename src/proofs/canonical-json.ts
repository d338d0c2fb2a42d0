import { createHash } from 'node:crypto';

/**
 * Canonical JSON, the form a circuit id is the hash of: object keys sorted by UTF-16 code units (as
 * `Array.prototype.sort` orders strings), no whitespace, strings escaped as `JSON.stringify` does, arrays in
 * order. For what a snarkjs key holds (strings, safe integers, arrays, objects) this equals RFC 8785 (JCS).
 * Anything else (non-integer or unsafe numbers, undefined, functions) is refused rather than given a second
 * spelling: two spellings of one key would give one circuit two ids.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError('only safe integers have a canonical form');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
  }
  throw new TypeError(`a ${typeof value} has no JSON form`);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
