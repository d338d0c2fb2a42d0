export interface LruCacheOptions<K, V> {
  /** Most entries kept (default: no bound by count). */
  maxEntries?: number;
  /** Most bytes kept, as `sizeOf` weighs them (default: no bound by size). */
  maxBytes?: number;
  /** The bytes an entry holds; required with `maxBytes`. Weighed once, when the entry is set. */
  sizeOf?: (value: V, key: K) => number;
  onEvict?: (value: V, key: K) => void;
}

interface Entry<V> {
  value: V;
  bytes: number;
  stamp: number;
}

/**
 * A bounded map that forgets the least recently used entries (Map keeps insertion order), by count, by bytes or
 * both. An entry weighing more than `maxBytes` by itself is not kept (nor does it evict anything). Every in-memory
 * map that clients can fill (keys, addresses, subjects) is one of these: a flood of new keys then costs only the
 * coldest entries, where emptying the map when full would also have dropped every hot one at once. By count the
 * order is nearly LRU: an entry read at least once per `maxEntries / 2` insertions is never evicted.
 */
export class LruCache<K, V> {
  private readonly items = new Map<K, Entry<V>>();
  private totalBytes = 0;
  /** Counts insertions and moves: an entry's `stamp` is this count when it last became the newest. */
  private stamps = 0;
  /**
   * A read moves its entry to the newest end only when at least this many insertions and moves came after it:
   * with fewer, it is in the newer half and far from next to go, and a Map delete and set on every read cost
   * several times the lookup itself (~75 against ~20 ns on the 2-core machine). With a byte bound every read
   * moves, since bytes, not counts, decide what goes.
   */
  private readonly freshWithin: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  private readonly sizeOf: (value: V, key: K) => number;
  private readonly onEvict: (value: V, key: K) => void;

  constructor(options: LruCacheOptions<K, V>) {
    this.maxEntries = options.maxEntries ?? Infinity;
    this.maxBytes = options.maxBytes ?? Infinity;
    if (this.maxEntries < 1) throw new Error('LruCache maxEntries must be at least 1');
    if (this.maxBytes < 1) throw new Error('LruCache maxBytes must be at least 1');
    if (options.maxBytes !== undefined && !options.sizeOf) throw new Error('LruCache maxBytes needs sizeOf');
    this.sizeOf = options.sizeOf ?? (() => 0);
    this.onEvict = options.onEvict ?? (() => undefined);
    this.freshWithin = this.maxBytes === Infinity ? Math.floor(this.maxEntries / 2) : 0;
  }

  get size(): number {
    return this.items.size;
  }

  /** The bytes the entries hold, as weighed when they were set. */
  get bytes(): number {
    return this.totalBytes;
  }

  get(key: K): V | undefined {
    const entry = this.items.get(key);
    if (entry === undefined) return undefined;
    if (this.stamps - entry.stamp >= this.freshWithin) {
      this.items.delete(key);
      entry.stamp = ++this.stamps;
      this.items.set(key, entry);
    }
    return entry.value;
  }

  /** Keeps `value` unless it alone is over `maxBytes`; returns whether it was kept. */
  set(key: K, value: V): boolean {
    this.delete(key);
    const bytes = this.sizeOf(value, key);
    if (bytes > this.maxBytes) return false;
    this.items.set(key, { value, bytes, stamp: ++this.stamps });
    this.totalBytes += bytes;
    while (this.items.size > this.maxEntries || this.totalBytes > this.maxBytes) {
      const [oldest, evicted] = this.items.entries().next().value as [K, Entry<V>];
      this.items.delete(oldest);
      this.totalBytes -= evicted.bytes;
      this.onEvict(evicted.value, oldest);
    }
    return true;
  }

  /** Whether `key` is cached, without making it the most recently used. */
  has(key: K): boolean {
    return this.items.has(key);
  }

  /** Forgets `key` (not an eviction: `onEvict` is not called). */
  delete(key: K): void {
    const entry = this.items.get(key);
    if (!entry) return;
    this.items.delete(key);
    this.totalBytes -= entry.bytes;
  }

  keys(): IterableIterator<K> {
    return this.items.keys();
  }

  /** Every entry, least recently used first, without making any more recent; deleting while iterating is safe. */
  *entries(): IterableIterator<[K, V]> {
    for (const [key, entry] of this.items) yield [key, entry.value];
  }

  clear(): void {
    this.items.clear();
    this.totalBytes = 0;
  }
}
