import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { ApiKeyAuthService } from '../../api-keys/api-key-auth.service';
import { ApiKeyRejected } from '../../api-keys/api-key.strategy';
import { AppException } from '../../common/errors/app.exception';
import { AppConfig } from '../../config/app-config';
import { clientSubject } from '../../rate-limit/client-subject';
import { ResilientThrottlerStorage } from '../../rate-limit/resilient.storage';
import { ErrorCode } from '../../common/errors/error-code';
import { VcpMetrics } from '../../metrics/vcp-metrics';
import { IS_PUBLIC_KEY } from '../decorators/public.decorator';
import type { Principal } from '../principal';
import { requestMetaOf } from '../decorators/request-context.decorator';

/** Query parameters that would carry a key in a URL, where proxies, browsers and logs keep it. */
export const KEY_QUERY_PARAMS = ['api_key', 'apikey', 'api-key', 'key', 'access_token', 'token'];

/**
 * Global and deny-by-default: every route needs a bearer JWT or an X-API-Key unless marked @Public(). A route
 * that forgets its decorator is therefore closed, not open.
 */
@Injectable()
export class AuthenticationGuard extends AuthGuard(['jwt', 'api-key']) {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeyAuthService,
    private readonly counters: ResilientThrottlerStorage,
    private readonly config: AppConfig,
    private readonly metrics: VcpMetrics,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const query = (request.query ?? {}) as Record<string, unknown>;
    if (KEY_QUERY_PARAMS.some((name) => name in query)) {
      this.apiKeys.recordFailure('query_string', requestMetaOf(request));
      throw new AppException(
        ErrorCode.Unauthorized,
        'Credentials are accepted only in headers, never in the URL',
      );
    }
    try {
      return (await super.canActivate(context)) as boolean;
    } catch (error) {
      if (error instanceof AppException && error.code === ErrorCode.Unauthorized)
        await this.countFailure(request);
      throw error;
    }
  }

  /**
   * Failed authentications count against the client IP on the auth tier's per-minute limit, so guessing
   * keys or tokens on protected routes is throttled like guessing passwords on login.
   */
  private async countFailure(request: FastifyRequest): Promise<void> {
    const limit = this.config.rateLimits.tiers.auth.rpm;
    const record = await this.counters.increment(
      `auth-failure:${clientSubject(request.ip)}`,
      60_000,
      limit,
      60_000,
      'minute',
    );
    if (record.totalHits > limit) {
      this.metrics.rateLimitedRequest('auth');
      throw new AppException(ErrorCode.RateLimited, 'Too many failed authentications; retry later', {}, 429);
    }
  }

  override handleRequest<T = Principal>(
    error: unknown,
    principal: T | false,
    _info: unknown,
    context: ExecutionContext,
  ): T {
    if (error instanceof ApiKeyRejected) {
      this.apiKeys.recordFailure(
        error.reason,
        requestMetaOf(context.switchToHttp().getRequest<FastifyRequest>()),
      );
    }
    if (error instanceof AppException) throw error;
    if (error || !principal) throw new AppException(ErrorCode.Unauthorized, 'Valid credentials are required');
    return principal;
  }
}
