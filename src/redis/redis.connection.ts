import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { closeRedis } from './close-redis';
import { RedisConfig } from './redis.config';

/** The shared Redis client when REDIS_URL is set (null otherwise), closed on shutdown. */
@Injectable()
export class RedisConnection implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisConnection.name);
  readonly client: Redis | null;

  constructor(config: RedisConfig) {
    this.client = config.url
      ? new Redis(config.url, {
          lazyConnect: false,
          // Fail fast while Redis is down instead of queueing commands without bound; ioredis keeps
          // reconnecting in the background, so the service recovers when Redis returns.
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          connectTimeout: 2000,
          retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
        })
      : null;
    this.client?.on('error', (error: Error) => this.logger.warn(`redis: ${error.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.client) await closeRedis(this.client);
  }
}
