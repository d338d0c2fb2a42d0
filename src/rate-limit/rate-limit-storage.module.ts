import { Module } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { CoreConfig } from '../common/config/core.config';
import { DatabaseConfig } from '../database/database.config';
import { deploymentScope } from '../database/deployment-scope';
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
      inject: [RateLimitConfig, RedisConnection, VcpMetrics, Clock, DatabaseConfig, CoreConfig],
      useFactory: (
        config: RateLimitConfig,
        redis: RedisConnection,
        metrics: VcpMetrics,
        clock: Clock,
        database: DatabaseConfig,
        core: CoreConfig,
      ) => {
        const storage = new ResilientThrottlerStorage(
          redis.client,
          new BoundedMemoryThrottlerStorage(config.memoryMaxKeys, clock),
          clock,
          `vcp:rl:${deploymentScope(database, core)}:`,
        );
        metrics.trackRateLimitStorage(storage);
        return storage;
      },
    },
  ],
  exports: [ResilientThrottlerStorage],
})
export class RateLimitStorageModule {}
