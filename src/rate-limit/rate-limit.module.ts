import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { BURST_WINDOW_MS, MINUTE_WINDOW_MS, RateLimitGuard } from './rate-limit.guard';
import { RateLimitPolicy } from './rate-limit.policy';
import { ResilientThrottlerStorage } from './resilient.storage';
import { ThrottleOverridesController } from './throttle-overrides.controller';
import { ThrottleOverridesService } from './throttle-overrides.service';

/**
 * Two fixed windows per route and subject: a per-second burst and a per-minute limit. The limits here are
 * placeholders; RateLimitGuard takes the real ones from the route's tier, the key's tier and overrides.
 * Registered after AuthModule, so its guard runs after authentication has found the principal.
 */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [ResilientThrottlerStorage],
      useFactory: (storage: ResilientThrottlerStorage) => ({
        throttlers: [
          { name: 'burst', ttl: BURST_WINDOW_MS, limit: 1 },
          { name: 'minute', ttl: MINUTE_WINDOW_MS, limit: 1 },
        ],
        storage,
        setHeaders: false,
      }),
    }),
  ],
  controllers: [ThrottleOverridesController],
  providers: [RateLimitPolicy, ThrottleOverridesService, { provide: APP_GUARD, useClass: RateLimitGuard }],
})
export class RateLimitModule {}
