import { AppException } from '../errors/app.exception';
import { UUID_PATTERN } from '../validation/uuid';

/** Where a page ended: the last row's sort key and id (the tie-breaker). */
export interface KeysetCursor {
  /** ISO timestamp of the last row's sort time. */
  t: string;
  /** The last row's id. */
  id: string;
}

export function encodeCursor(cursor: KeysetCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/**
 * Decodes a cursor or answers 422: a tampered cursor must never reach SQL as anything but checked values.
 * `idPattern` is what the list's tie-breaking id looks like (a UUID unless the list says otherwise).
 */
export function decodeCursor(raw: string | undefined, idPattern: RegExp = UUID_PATTERN): KeysetCursor | null {
  if (!raw) return null;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<KeysetCursor>;
    const validTime = typeof parsed.t === 'string' && !Number.isNaN(Date.parse(parsed.t));
    if (validTime && typeof parsed.id === 'string' && idPattern.test(parsed.id))
      return { t: parsed.t!, id: parsed.id };
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
