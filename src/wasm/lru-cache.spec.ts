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
});
