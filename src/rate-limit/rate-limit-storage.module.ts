import { Module } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { ClockModule } from '../common/clock/clock.module';
import { AppConfig } from '../config/app-config';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { RedisConnection } from '../redis/redis.connection';
import { RedisModule } from '../redis/redis.module';
import { BoundedMemoryThrottlerStorage } from './bounded-memory.storage';
import { ResilientThrottlerStorage } from './resilient.storage';

/** The one storage of rate-limit counters (Redis when configured, else memory), shared by the guards. */
@Module({
  imports: [RedisModule, ClockModule],
  providers: [
    {
      provide: ResilientThrottlerStorage,
      inject: [AppConfig, RedisConnection, VcpMetrics, Clock],
      useFactory: (config: AppConfig, redis: RedisConnection, metrics: VcpMetrics, clock: Clock) => {
        const storage = new ResilientThrottlerStorage(
          redis.client,
          new BoundedMemoryThrottlerStorage(config.rateLimits.memoryMaxKeys, clock),
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
