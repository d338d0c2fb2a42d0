import { Injectable } from '@nestjs/common';
import { FailedAuthenticationThrottle } from '../common/auth/failed-authentication.throttle';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { clientSubject } from './client-subject';
import { RateLimitConfig } from './rate-limit.config';
import { ResilientThrottlerStorage } from './resilient.storage';

const WINDOW_MS = 60_000;

/** Failed authentications count against the client IP on the auth tier's per-minute limit. */
@Injectable()
export class AuthFailureThrottle extends FailedAuthenticationThrottle {
  constructor(
    private readonly counters: ResilientThrottlerStorage,
    private readonly config: RateLimitConfig,
    private readonly metrics: VcpMetrics,
  ) {
    super();
  }

  async recordFailure(client: string | null): Promise<void> {
    const limit = this.config.tiers.auth.rpm;
    const record = await this.counters.increment(
      `auth-failure:${clientSubject(client ?? undefined)}`,
      WINDOW_MS,
      limit,
      WINDOW_MS,
      'minute',
    );
    if (record.totalHits > limit) {
      this.metrics.rateLimitedRequest('auth');
      const error = new AppException(ErrorCode.RateLimited, 'Too many failed authentications; retry later');
      error.headers['Retry-After'] = String(Math.max(1, record.timeToExpire));
      throw error;
    }
  }
}
