import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { ApiKeyAuthService } from '../../api-keys/api-key-auth.service';
import { ApiKeyRejected } from '../../api-keys/api-key.strategy';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { FailedAuthenticationThrottle } from '../../common/auth/failed-authentication.throttle';
import { IS_PUBLIC_KEY } from '../../common/auth/public.decorator';
import type { Principal } from '../../common/auth/principal';
import { requestMetaOf } from '../../common/auth/request-context.decorator';

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
    private readonly failures: FailedAuthenticationThrottle,
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
        await this.failures.recordFailure(request);
      throw error;
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
