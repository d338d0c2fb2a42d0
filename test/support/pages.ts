import type { LightMyRequestResponse } from 'fastify';

/**
 * Every item of a cursor-paged list: `get` fetches one page given the previous page's `next_cursor` (null for
 * the first). Stops after `maxPages` so that a cursor that never ends fails the test instead of hanging it.
 */
export async function collectPages<Item>(
  get: (cursor: string | null) => Promise<LightMyRequestResponse>,
  maxPages = 50,
): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const res = await get(cursor);
    if (res.statusCode !== 200) throw new Error(`page ${page + 1}: ${res.statusCode} ${res.body}`);
    const body = res.json<{ items: Item[]; next_cursor: string | null }>();
    items.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) return items;
  }
  throw new Error(`still paging after ${maxPages} pages`);
}
