export interface LruCacheOptions<K, V> {
  /** Most entries kept (default: no bound by count). */
  maxEntries?: number;
  /** Most bytes kept, as `sizeOf` weighs them (default: no bound by size). */
  maxBytes?: number;
  /** The bytes an entry holds; required with `maxBytes`. Weighed once, when the entry is set. */
  sizeOf?: (value: V, key: K) => number;
  onEvict?: (value: V, key: K) => void;
}

/**
 * A bounded map that forgets the least recently used entries (Map keeps insertion order), by count, by bytes or
 * both. An entry weighing more than `maxBytes` by itself is not kept (nor does it evict anything).
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private totalBytes = 0;
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
  }

  get size(): number {
    return this.entries.size;
  }

  /** The bytes the entries hold, as weighed when they were set. */
  get bytes(): number {
    return this.totalBytes;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Keeps `value` unless it alone is over `maxBytes`; returns whether it was kept. */
  set(key: K, value: V): boolean {
    this.delete(key);
    const bytes = this.sizeOf(value, key);
    if (bytes > this.maxBytes) return false;
    this.entries.set(key, { value, bytes });
    this.totalBytes += bytes;
    while (this.entries.size > this.maxEntries || this.totalBytes > this.maxBytes) {
      const [oldest, evicted] = this.entries.entries().next().value as [K, { value: V; bytes: number }];
      this.entries.delete(oldest);
      this.totalBytes -= evicted.bytes;
      this.onEvict(evicted.value, oldest);
    }
    return true;
  }

  /** Whether `key` is cached, without making it the most recently used. */
  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Forgets `key` (not an eviction: `onEvict` is not called). */
  delete(key: K): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
  }

  keys(): IterableIterator<K> {
    return this.entries.keys();
  }

  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }
}
