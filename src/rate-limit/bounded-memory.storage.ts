import type { ThrottlerStorage } from '@nestjs/throttler';
import { Clock, SystemClock } from '../common/clock/clock';

interface Bucket {
  hits: number;
  expiresAt: number;
  blockedUntil: number;
}

export interface StorageRecord {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

/**
 * In-memory fixed-window counters with the same semantics as the Redis Lua script, bounded in size: at most
 * `maxKeys` buckets, no timer per hit. When full, expired buckets are swept (a bounded number per call) and
 * then the oldest bucket is evicted, so 100 000 distinct clients cannot grow memory without bound.
 */
export class BoundedMemoryThrottlerStorage implements ThrottlerStorage {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly maxKeys = 50_000,
    private readonly clock: Clock = new SystemClock(),
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<StorageRecord> {
    const id = `${key}:${throttlerName}`;
    const now = this.clock.nowMs();
    let bucket = this.buckets.get(id);
    if (bucket && bucket.expiresAt <= now) {
      if (bucket.blockedUntil <= now) {
        this.buckets.delete(id);
        bucket = undefined;
      } else {
        // A new window, the block kept (as the Redis script does: its hit key expires on its own). Kept counting
        // past the window, a client told `Retry-After` (the window's end) would meet 429s until the block ended.
        bucket.hits = 0;
        bucket.expiresAt = now + ttl;
      }
    }
    if (!bucket) {
      this.makeRoom(now);
      bucket = { hits: 0, expiresAt: now + ttl, blockedUntil: 0 };
      this.buckets.set(id, bucket);
    }
    bucket.hits += 1;
    if (bucket.blockedUntil <= now && bucket.hits > limit) bucket.blockedUntil = now + blockDuration;
    const blocked = bucket.blockedUntil > now;
    return Promise.resolve({
      totalHits: bucket.hits,
      timeToExpire: Math.max(0, Math.ceil((bucket.expiresAt - now) / 1000)),
      isBlocked: blocked,
      timeToBlockExpire: blocked ? Math.ceil((bucket.blockedUntil - now) / 1000) : 0,
    });
  }

  private makeRoom(now: number): void {
    if (this.buckets.size < this.maxKeys) return;
    let swept = 0;
    for (const [id, bucket] of this.buckets) {
      if (swept >= 64) break;
      swept += 1;
      if (bucket.expiresAt <= now && bucket.blockedUntil <= now) this.buckets.delete(id);
    }
    while (this.buckets.size >= this.maxKeys) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
  }
}
