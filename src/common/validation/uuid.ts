export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Ids from a URL, token or cursor are checked before they reach SQL: PostgreSQL answers a malformed uuid with an
 * error (a 500), and "not a uuid" must instead be the same 404/401 as "no such id".
 */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}
