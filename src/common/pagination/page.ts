import { decodeCursor, encodeCursor, KeysetCursor } from './cursor';

/** The body of every list route. */
export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

export const PAGE_LIMIT = { default: 50, max: 100 } as const;

/** What a list query asks for, checked: repositories read `fetch` rows after `after` (exclusive). */
export interface PageRequest {
  limit: number;
  /** One row more than the page: whether it comes back says whether another page follows. */
  fetch: number;
  after: KeysetCursor | null;
}

/**
 * Keyset pagination on (sort time, id): stable under inserts and without OFFSET scans. `limit` is clamped to
 * 1–100 (default 50); the cursor is decoded and checked, a tampered one is a 422 before any query runs.
 */
export function pageRequest(query: { limit?: number; cursor?: string }, idPattern?: RegExp): PageRequest {
  const after = decodeCursor(query.cursor, idPattern);
  const limit = Math.min(Math.max(Math.trunc(query.limit ?? PAGE_LIMIT.default), 1), PAGE_LIMIT.max);
  return { limit, fetch: limit + 1, after };
}

/** The page for rows read with `request.fetch`: at most `limit` items, and a cursor when more rows follow. */
export function toPage<R, T>(
  rows: readonly R[],
  request: PageRequest,
  keyOf: (row: R) => KeysetCursor,
  toItem: (row: R) => T,
): Page<T> {
  const items = rows.slice(0, request.limit);
  const last = items[items.length - 1];
  return {
    items: items.map(toItem),
    next_cursor: rows.length > request.limit && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
}
