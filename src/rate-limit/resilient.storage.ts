import { Logger } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';
import { Clock, SystemClock } from '../common/clock/clock';
import { BoundedMemoryThrottlerStorage, StorageRecord } from './bounded-memory.storage';

const REDIS_TIMEOUT_MS = 250;
const RETRY_INTERVAL_MS = 1000;

/**
 * Shared counters in Redis (one atomic Lua script per hit) when REDIS_URL is set, with a per-replica in-memory
 * fallback: if Redis stops answering, requests are still served and limited (per replica), the outage is
 * logged and counted, and Redis is tried again at most once a second until it answers.
 */
export class ResilientThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger('RateLimit');
  private readonly redisStore: ThrottlerStorageRedisService | null;
  private degradedSince: number | null = null;
  private lastAttempt = 0;
  private refreshing: Promise<void> | null = null;
  /** How many times this replica fell back to memory (readiness and logs report it). */
  fallbacks = 0;

  /**
   * `namespace` prefixes every key in Redis: deployments that share a Redis database (staging and production,
   * say) would otherwise share the counters of one subject, since keys are derived from route and subject only.
   */
  constructor(
    private readonly redis: Redis | null,
    readonly memory = new BoundedMemoryThrottlerStorage(),
    private readonly clock: Clock = new SystemClock(),
    private readonly namespace = '',
  ) {
    this.redisStore = redis ? new ThrottlerStorageRedisService(redis) : null;
  }

  get mode(): 'memory' | 'redis' | 'degraded' {
    if (!this.redisStore) return 'memory';
    return this.degradedSince === null ? 'redis' : 'degraded';
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    name: string,
  ): Promise<StorageRecord> {
    const now = this.clock.nowMs();
    if (!this.redisStore || (this.degradedSince !== null && now - this.lastAttempt < RETRY_INTERVAL_MS)) {
      return this.memory.increment(key, ttl, limit, blockDuration, name);
    }
    this.lastAttempt = now;
    try {
      const record = await withTimeout(
        this.redisStore.increment(`${this.namespace}${key}`, ttl, limit, blockDuration, name),
        REDIS_TIMEOUT_MS,
      );
      this.answered(now);
      return record;
    } catch (error) {
      this.unanswered(now, error);
      return this.memory.increment(key, ttl, limit, blockDuration, name);
    }
  }

  /**
   * Asks Redis itself (at most once a second), so that `mode` is current when no limited request came to tell:
   * the metrics scrape calls it, else the degraded gauge missed an outage on a quiet replica, or stayed 1 after.
   */
  refresh(): Promise<void> {
    const redis = this.redis;
    const now = this.clock.nowMs();
    if (!redis || now - this.lastAttempt < RETRY_INTERVAL_MS) return this.refreshing ?? Promise.resolve();
    this.lastAttempt = now;
    this.refreshing ??= withTimeout(redis.ping(), REDIS_TIMEOUT_MS)
      .then(
        () => this.answered(now),
        (error: unknown) => this.unanswered(now, error),
      )
      .finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private answered(now: number): void {
    if (this.degradedSince === null) return;
    this.logger.log(`Redis answers again after ${now - this.degradedSince} ms: shared rate limits restored`);
    this.degradedSince = null;
  }

  private unanswered(now: number, error: unknown): void {
    if (this.degradedSince !== null) return;
    this.degradedSince = now;
    this.fallbacks += 1;
    this.logger.warn(
      `Redis unreachable (${(error as Error).message}): rate limits fall back to this replica's memory`,
    );
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
