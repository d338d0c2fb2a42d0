import { AppException } from '../errors/app.exception';
import { UUID_PATTERN } from '../validation/uuid';

/** Where a page ended: the last row's sort key and id (the tie-breaker). */
export interface KeysetCursor {
  /** The last row's sort time as Date#toISOString writes it (the only form decodeCursor accepts). */
  t: string;
  /** The last row's id. */
  id: string;
}

export function encodeCursor(cursor: KeysetCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

// Date#toISOString of a stored time, years 0001–9999: the only form encodeCursor's callers write. Date.parse
// alone also reads "2026", "1" and "+275760-09-13T00:00:00.000Z", which `::timestamptz` then refuses (a 500).
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function isCursorTime(value: unknown): value is string {
  if (typeof value !== 'string' || !CURSOR_TIME.test(value)) return false;
  const time = new Date(value);
  // The round trip refuses what Date rolls over ("2026-02-30…"); PostgreSQL has no year 0.
  return !Number.isNaN(time.getTime()) && time.getUTCFullYear() >= 1 && time.toISOString() === value;
}

/**
 * Decodes a cursor or answers 422: a tampered cursor must never reach SQL as anything but checked values.
 * `idPattern` is what the list's tie-breaking id looks like (a UUID unless the list says otherwise).
 */
export function decodeCursor(raw: string | undefined, idPattern: RegExp = UUID_PATTERN): KeysetCursor | null {
  if (!raw) return null;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<KeysetCursor>;
    if (isCursorTime(parsed.t) && typeof parsed.id === 'string' && idPattern.test(parsed.id))
      return { t: parsed.t, id: parsed.id };
  } catch {
    // Not base64 JSON: answered by the validation error below.
  }
  throw AppException.validation([{ field: 'cursor', message: 'cursor is not a valid cursor' }]);
}

/**
 * A list's sort key: its time at millisecond precision (the precision a cursor carries through JavaScript, so
 * rows created within one millisecond are neither skipped nor repeated), in UTC so that it is immutable and
 * an index can hold it (migrations/20261202130000-PageIndexes.ts; keep the two expressions identical).
 */
export const pageTime = (column: string): string =>
  `date_trunc('milliseconds', ${column} AT TIME ZONE 'UTC')`;

/** A cursor's time parameter in the form pageTime() compares with. */
export const cursorTime = (parameter: string): string => `(${parameter}::timestamptz AT TIME ZONE 'UTC')`;
