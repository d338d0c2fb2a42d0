/**
 * Strings JSON can carry but PostgreSQL cannot store, refused at the door as a validation error instead of
 * failing far from the parser (a 500, or a node's result retried forever):
 * - half of a UTF-16 surrogate pair escaped on its own (`"\ud800"`): JSON.parse accepts it and yields a string
 *   with no UTF-8 form (validator.js's isEmail and isByteLength call encodeURI, which throws; jsonb refuses it);
 * - U+0000 (`"\u0000"`): neither `text` nor `jsonb` can hold it.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE = new RegExp(`\\u0000|${LONE_SURROGATE.source}`);
/** Both can only enter through an escape (`\uD8xx`–`\uDFxx`, `\u0000`): without one, the parsed value is clean. */
const UNSTORABLE_ESCAPE = /\\u(?:[dD][89a-fA-F]|0000)/;
const MAX_DEPTH = 80; // bodies deeper than 64 levels are refused before parsing

export const UNSTORABLE_TEXT_MESSAGE =
  'must be well-formed Unicode without U+0000 (it holds an unpaired UTF-16 surrogate escape or a NUL)';

export function mayHoldUnstorableText(jsonText: string): boolean {
  return UNSTORABLE_ESCAPE.test(jsonText);
}

/**
 * The path (`a.b[2]`, or `body`) of the first key or string that cannot be stored, or null. `allowNul`: for a
 * route that handles NUL itself and stores none (login: a NUL username is a failed, audited attempt).
 */
export function findUnstorableText(value: unknown, allowNul = false): string | null {
  return findMatch(value, allowNul ? LONE_SURROGATE : UNSTORABLE, '', 0);
}

function findMatch(value: unknown, pattern: RegExp, path: string, depth: number): string | null {
  if (typeof value === 'string') return pattern.test(value) ? path || 'body' : null;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return null;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findMatch(item, pattern, `${path}[${i}]`, depth + 1);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (pattern.test(key)) return path || 'body';
    const found = findMatch(item, pattern, path ? `${path}.${key}` : key, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

/**
 * `value` with every character PostgreSQL cannot store (U+0000, an unpaired surrogate) replaced by U+FFFD, in
 * strings and keys: what a node reports of a program's output, which may hold anything. Deterministic, so
 * nodes that run the same program still agree on the output hash.
 */
export function storableText<T>(value: T): T {
  // Almost every output is clean: it is returned as it is, not copied.
  return findUnstorableText(value) === null ? value : replaced(value, 0);
}

function replaced<T>(value: T, depth: number): T {
  if (typeof value === 'string') return value.replace(UNSTORABLE_ALL, '\ufffd') as T;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item: unknown) => replaced(item, depth + 1)) as T;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    copy[replaced(key, depth)] = replaced(item, depth + 1);
  }
  return copy as T;
}
