import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ThrottlerModule } from '@nestjs/throttler';
import { FailedAuthenticationThrottle } from '../common/auth/failed-authentication.throttle';
import { ClockModule } from '../common/clock/clock.module';
import { AuthFailureThrottle } from './failed-authentication.throttle';
import { RateLimitStorageModule } from './rate-limit-storage.module';
import { BURST_WINDOW_MS, MINUTE_WINDOW_MS, RateLimitGuard } from './rate-limit.guard';
import { RateLimitPolicy } from './rate-limit.policy';
import { ResilientThrottlerStorage } from './resilient.storage';
import { ThrottleOverridesController } from './throttle-overrides.controller';
import { ThrottleOverridesRepository } from './throttle-overrides.repository';
import { ThrottleOverridesService } from './throttle-overrides.service';

/**
 * Two fixed windows per route and subject: a per-second burst and a per-minute limit. The limits here are
 * placeholders; RateLimitGuard takes the real ones from the route's tier, the key's tier and overrides.
 * The guard is registered globally, in order, by app.module.ts.
 */
@Module({
  imports: [
    AuditModule,
    ClockModule,
    RateLimitStorageModule,
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStorageModule],
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
  providers: [
    RateLimitPolicy,
    ThrottleOverridesRepository,
    ThrottleOverridesService,
    RateLimitGuard,
    { provide: FailedAuthenticationThrottle, useClass: AuthFailureThrottle },
  ],
  exports: [RateLimitGuard, FailedAuthenticationThrottle, RateLimitStorageModule],
})
export class RateLimitModule {}
