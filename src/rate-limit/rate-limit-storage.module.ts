import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RedisConnection } from '../redis/redis.connection';
import { BoundedMemoryThrottlerStorage } from './bounded-memory.storage';
import { ResilientThrottlerStorage } from './resilient.storage';

/** The one storage of rate-limit counters (Redis when configured, else memory), shared by guard and health. */
@Global()
@Module({
  providers: [
    {
      provide: ResilientThrottlerStorage,
      inject: [AppConfig, RedisConnection],
      useFactory: (config: AppConfig, redis: RedisConnection) =>
        new ResilientThrottlerStorage(
          redis.client,
          new BoundedMemoryThrottlerStorage(config.rateLimits.memoryMaxKeys),
        ),
    },
  ],
  exports: [ResilientThrottlerStorage],
})
export class RateLimitStorageModule {}
