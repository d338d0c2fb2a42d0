import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
// The key @SkipThrottle writes (not re-exported by the package's index).
import { THROTTLER_SKIP } from '@nestjs/throttler/dist/throttler.constants';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hash } from 'node:crypto';
import type { Principal } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { clientAddress } from '../common/auth/client-address';
import { clientSubject } from './client-subject';
import { Limits, RateLimitPolicy } from './rate-limit.policy';
import { RATE_TIER_KEY } from '../common/auth/rate-tier.decorator';
import { routeMetadata } from '../common/http/route-metadata';
import type { RateTier } from '../common/auth/rate-tiers';

type ThrottledRequest = FastifyRequest & {
  user?: Principal;
  [LIMITS]?: Promise<Limits | null>;
  [BUCKET]?: string;
};
const LIMITS = Symbol('vcp.rateLimits');
/** The request's bucket key, the same for each named throttler (the storage adds the throttler's name). */
const BUCKET = Symbol('vcp.rateLimitBucket');

export const BURST_WINDOW_MS = 1000;
export const MINUTE_WINDOW_MS = 60_000;

/**
 * Runs after authentication, so a request counts against its API key, else its user, else its client IP
 * (Fastify's request.ip: the socket peer, or the first untrusted X-Forwarded-For hop behind a trusted proxy).
 * Buckets are per route template and method (HEAD counts as GET), never per class or method name, and never inferred from a path.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly policy: RateLimitPolicy,
    private readonly metrics: VcpMetrics,
  ) {
    super(options, storage, reflector);
  }

  /**
   * ThrottlerGuard's own loop, without the per-route limit, TTL, block-duration, tracker and key-generator
   * lookups (ten Reflect reads and six awaits per request) that handleRequest below never uses: the limits come
   * from the tier policy. @SkipThrottle (NoRateLimit) is honoured per named throttler as ThrottlerGuard does.
   */
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    for (const throttler of this.throttlers) {
      if (routeMetadata<boolean>(this.reflector, THROTTLER_SKIP + throttler.name, context)) continue;
      if (!(await this.handleRequest({ context, throttler } as ThrottlerRequest))) return false;
    }
    return true;
  }

  protected override async handleRequest({ context, throttler }: ThrottlerRequest): Promise<boolean> {
    // getArgByIndex, not switchToHttp(): that one allocates three closures per call, twice per throttler here.
    const request = context.getArgByIndex<ThrottledRequest>(0);
    const reply = context.getArgByIndex<FastifyReply>(1);
    const tier = routeMetadata<RateTier>(this.reflector, RATE_TIER_KEY, context) ?? 'general';
    request[LIMITS] ??= this.policy.resolve(
      tier,
      request.user,
      clientSubject(clientAddress(request) ?? undefined),
    );
    const limits = await request[LIMITS];
    if (!limits) return true;
    const burst = throttler.name === 'burst';
    const limit = burst ? limits.burst : limits.rpm;
    const ttl = burst ? BURST_WINDOW_MS : MINUTE_WINDOW_MS;
    const key = (request[BUCKET] ??= bucketKey(request, tier, limits.subject));
    const record = await this.storageService.increment(key, ttl, limit, ttl, throttler.name ?? 'default');
    // Judged by the count against the limit in force now (not the storage's block flag), so a raised limit or an
    // override applies at once; the window still ends when the counter expires.
    if (record.totalHits > limit) {
      const retryAfter = String(Math.max(1, record.timeToExpire));
      void reply
        .header('Retry-After', retryAfter)
        .header('X-RateLimit-Limit', String(limit))
        .header('X-RateLimit-Remaining', '0')
        .header('X-RateLimit-Reset', retryAfter);
      this.metrics.rateLimitedRequest(tier);
      throw new AppException(
        ErrorCode.RateLimited,
        `Too many requests: at most ${limit} per ${burst ? 'second' : 'minute'} here; retry after ${retryAfter} s`,
      );
    }
    if (!burst) {
      void reply
        .header('X-RateLimit-Limit', String(limit))
        .header('X-RateLimit-Remaining', String(Math.max(0, limit - record.totalHits)))
        .header('X-RateLimit-Reset', String(record.timeToExpire));
    }
    return true;
  }
}

function bucketKey(request: FastifyRequest, tier: RateTier, subject: string): string {
  // Fastify answers HEAD with the GET handler: one route, so one bucket (else HEAD doubles the allowance).
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const route = `${method} ${request.routeOptions.url ?? request.url}`;
  // One-shot, as every rate-limited request pays it: a Hash object costs ~3× as much (1.0 against 0.3 µs).
  return hash('sha256', `${route}|${tier}|${subject}`, 'hex');
}
