/**
 * JSON can escape half of a UTF-16 surrogate pair on its own (`"\ud800"`): JSON.parse accepts it and yields a
 * string that has no UTF-8 form. Such strings break code far from the parser (validator.js's isEmail and
 * isByteLength call encodeURI, which throws; PostgreSQL's jsonb refuses the escape), so they are refused at
 * the door as a validation error instead.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** A surrogate can only enter through a `\uD8xx`–`\uDFxx` escape: without one, the parsed value is clean. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const MAX_DEPTH = 80; // bodies deeper than 64 levels are refused before parsing

export function mayHoldLoneSurrogate(jsonText: string): boolean {
  return SURROGATE_ESCAPE.test(jsonText);
}

/** The path (`a.b[2]`, or `body`) of the first key or string holding an unpaired surrogate, or null. */
export function findLoneSurrogate(value: unknown, path = '', depth = 0): string | null {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? path || 'body' : null;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return null;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findLoneSurrogate(item, `${path}[${i}]`, depth + 1);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (LONE_SURROGATE.test(key)) return path || 'body';
    const found = findLoneSurrogate(item, path ? `${path}.${key}` : key, depth + 1);
    if (found !== null) return found;
  }
  return null;
}
