import { AppException } from '../errors/app.exception';
import { decodeCursor, encodeCursor } from './cursor';
import { pageRequest, toPage } from './page';

interface Row {
  createdAt: Date;
  id: string;
}

const rows = (n: number): Row[] =>
  Array.from({ length: n }, (_, i) => ({
    createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, i)),
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  }));
const keyOf = (row: Row) => ({ t: row.createdAt.toISOString(), id: row.id });

describe('keyset pagination', () => {
  it('clamps the limit to 1–100 (default 50) and asks for one row more', () => {
    expect(pageRequest({})).toEqual({ limit: 50, fetch: 51, after: null });
    expect(pageRequest({ limit: 0 }).limit).toBe(1);
    expect(pageRequest({ limit: 1000 }).limit).toBe(100);
    expect(pageRequest({ limit: 7.9 }).limit).toBe(7);
  });

  it('gives a cursor only when more rows follow, and the cursor leads back to the last item', () => {
    const request = pageRequest({ limit: 2 });
    const more = toPage(rows(3), request, keyOf, (r) => r.id);
    expect(more.items).toEqual([rows(3)[0].id, rows(3)[1].id]);
    expect(decodeCursor(more.next_cursor!)).toEqual(keyOf(rows(3)[1]));
    expect(pageRequest({ cursor: more.next_cursor!, limit: 2 }).after).toEqual(keyOf(rows(3)[1]));
    expect(toPage(rows(2), request, keyOf, (r) => r.id).next_cursor).toBeNull();
    expect(toPage([], request, keyOf, (r) => r.id)).toEqual({ items: [], next_cursor: null });
  });

  it('refuses a tampered cursor with a 422 naming `cursor`, and an id of the wrong kind', () => {
    const wrongKind = encodeCursor({ t: new Date(0).toISOString(), id: 'f'.repeat(64) });
    for (const cursor of ['!!', encodeCursor({ t: 'yesterday', id: rows(1)[0].id }), wrongKind]) {
      let thrown: unknown;
      try {
        pageRequest({ cursor });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(AppException);
      expect((thrown as AppException).extra.details).toEqual([
        { field: 'cursor', message: 'cursor is not a valid cursor' },
      ]);
    }
    expect(pageRequest({ cursor: wrongKind }, /^f{64}$/).after?.id).toBe('f'.repeat(64));
  });
});
