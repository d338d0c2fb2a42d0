import { Module } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { ClockModule } from '../common/clock/clock.module';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { RedisConnection } from '../redis/redis.connection';
import { RedisModule } from '../redis/redis.module';
import { BoundedMemoryThrottlerStorage } from './bounded-memory.storage';
import { RateLimitConfig } from './rate-limit.config';
import { ResilientThrottlerStorage } from './resilient.storage';

/** The one storage of rate-limit counters (Redis when configured, else memory), shared by the guards. */
@Module({
  imports: [RedisModule, ClockModule],
  providers: [
    {
      provide: ResilientThrottlerStorage,
      inject: [RateLimitConfig, RedisConnection, VcpMetrics, Clock],
      useFactory: (config: RateLimitConfig, redis: RedisConnection, metrics: VcpMetrics, clock: Clock) => {
        const storage = new ResilientThrottlerStorage(
          redis.client,
          new BoundedMemoryThrottlerStorage(config.memoryMaxKeys, clock),
          clock,
        );
        metrics.trackRateLimitStorage(storage);
        return storage;
      },
    },
  ],
  exports: [ResilientThrottlerStorage],
})
export class RateLimitStorageModule {}
