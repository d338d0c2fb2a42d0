/**
 * Control characters in user-supplied text are made visible instead of being stored or logged raw: a CR/LF
 * could forge a log line, an ANSI escape could rewrite an operator's terminal, bidi overrides could disguise a
 * name. Each becomes a literal `\u00XX`-style escape.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same class without the global flag: `test` keeps no `lastIndex` between calls. */
export const UNSAFE_CHARACTER = new RegExp(UNSAFE.source);

/** A UTF-16 half without its partner: no UTF-8 encoding exists for it, and PostgreSQL's jsonb refuses its escape. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Whether `neutralize` would change anything visible: one regex test, no copy (for hot paths). */
export function hasUnsafeCharacters(text: string): boolean {
  return UNSAFE_CHARACTER.test(text);
}

export function neutralize(text: string): string {
  return text
    .replace(UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(LONE_SURROGATE, '\ufffd');
}

const MAX_DEPTH = 8;

/** Applies `neutralize` to every string (keys included) of a JSON-like value. */
export function neutralizeDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return neutralize(value);
  if (depth >= MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => neutralizeDeep(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [
      neutralize(k),
      neutralizeDeep(v, depth + 1),
    ]),
  );
}
