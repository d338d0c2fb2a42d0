import { LruCache } from './lru-cache';

describe('LruCache', () => {
  const weighed = (maxBytes: number, evicted: string[] = []) =>
    new LruCache<string, Buffer>({
      maxBytes,
      sizeOf: (value) => value.length,
      onEvict: (_value, key) => evicted.push(key),
    });

  it('evicts the least recently used entries by bytes, not by count', () => {
    const evicted: string[] = [];
    const sut = weighed(100, evicted);
    sut.set('a', Buffer.alloc(40));
    sut.set('b', Buffer.alloc(40));
    sut.get('a'); // a is now more recent than b
    sut.set('c', Buffer.alloc(30));
    expect(evicted).toEqual(['b']);
    expect([...sut.keys()]).toEqual(['a', 'c']);
    expect(sut.bytes).toBe(70);
    // Many small entries fit where two large ones did not: the bound is bytes.
    for (let i = 0; i < 10; i++) sut.set(`s${i}`, Buffer.alloc(1));
    expect(sut.size).toBe(12);
    sut.set('d', Buffer.alloc(60));
    expect(sut.bytes).toBeLessThanOrEqual(100);
    expect(evicted).toEqual(['b', 'a']);
  });

  it('keeps nothing that is over the budget by itself, and evicts nothing for it', () => {
    const evicted: string[] = [];
    const sut = weighed(100, evicted);
    sut.set('a', Buffer.alloc(50));
    expect(sut.set('huge', Buffer.alloc(101))).toBe(false);
    expect(sut.has('huge')).toBe(false);
    expect(sut.has('a')).toBe(true);
    expect(evicted).toEqual([]);
  });

  it('replacing or deleting an entry gives its bytes back', () => {
    const sut = weighed(100);
    sut.set('a', Buffer.alloc(50));
    sut.set('a', Buffer.alloc(20));
    expect(sut.bytes).toBe(20);
    sut.delete('a');
    expect(sut.bytes).toBe(0);
  });

  it('still bounds by count when asked', () => {
    const sut = new LruCache<string, number>({ maxEntries: 2 });
    sut.set('a', 1);
    sut.set('b', 2);
    sut.set('c', 3);
    expect([...sut.keys()]).toEqual(['b', 'c']);
  });

  it('lists its entries oldest first without making them more recent, and may be pruned while listing', () => {
    const sut = new LruCache<string, number>({ maxEntries: 3 });
    sut.set('a', 1);
    sut.set('b', 2);
    sut.set('c', 3);
    expect(sut.entries().next().value).toEqual(['a', 1]);
    sut.set('d', 4); // reading a through entries() did not make it recent: it is the one evicted
    expect([...sut.keys()]).toEqual(['b', 'c', 'd']);
    for (const [key, value] of sut.entries()) if (value % 2 === 0) sut.delete(key);
    expect([...sut.entries()]).toEqual([['c', 3]]);
  });

  it('by count, moves a read entry only when it is in the older half (a newer one cannot be next to go)', () => {
    const sut = new LruCache<string, number>({ maxEntries: 4 });
    for (const [value, key] of ['a', 'b', 'c', 'd'].entries()) sut.set(key, value);
    sut.get('a'); // the oldest: moved to the newest end
    sut.get('d'); // one of the two newest: left where it is
    expect([...sut.keys()]).toEqual(['b', 'c', 'd', 'a']);
    sut.set('e', 4);
    sut.set('f', 5);
    expect([...sut.keys()]).toEqual(['d', 'a', 'e', 'f']);
    // With a byte bound every read moves.
    const weighedSut = weighed(100);
    weighedSut.set('x', Buffer.alloc(1));
    weighedSut.set('y', Buffer.alloc(1));
    weighedSut.get('y');
    weighedSut.get('x');
    expect([...weighedSut.keys()]).toEqual(['y', 'x']);
  });

  it('keeps an entry in use through a flood of new ones (a map emptied when full would drop it)', () => {
    const sut = new LruCache<string, number>({ maxEntries: 100 });
    sut.set('hot', 0);
    for (let i = 0; i < 10_000; i++) {
      sut.set(`flood-${i}`, i);
      // Read once per half the bound: the least often that still keeps it, reads that do not move included.
      if (i % 50 === 49) expect(sut.get('hot')).toBe(0);
    }
    expect(sut.get('hot')).toBe(0);
    expect(sut.size).toBe(100);
  });
});
