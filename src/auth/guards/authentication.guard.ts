import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { ApiKeyAuthService } from '../../api-keys/api-key-auth.service';
import { ApiKeyRejected } from '../../api-keys/api-key.strategy';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { IS_PUBLIC_KEY } from '../decorators/public.decorator';
import type { Principal, RequestMeta } from '../principal';

/** Query parameters that would carry a key in a URL, where proxies, browsers and logs keep it. */
export const KEY_QUERY_PARAMS = ['api_key', 'apikey', 'api-key', 'key', 'access_token', 'token'];

function metaOf(request: FastifyRequest): RequestMeta {
  const userAgent = request.headers['user-agent'];
  return {
    ip: request.ip ?? null,
    userAgent: typeof userAgent === 'string' ? userAgent : null,
    requestId: String(request.id),
  };
}

/**
 * Global and deny-by-default: every route needs a bearer JWT or an X-API-Key unless marked @Public(). A route
 * that forgets its decorator is therefore closed, not open.
 */
@Injectable()
export class AuthenticationGuard extends AuthGuard(['jwt', 'api-key']) {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeyAuthService,
  ) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const query = (request.query ?? {}) as Record<string, unknown>;
    if (KEY_QUERY_PARAMS.some((name) => name in query)) {
      this.apiKeys.recordFailure('query_string', metaOf(request));
      throw new AppException(
        ErrorCode.Unauthorized,
        'Credentials are accepted only in headers, never in the URL',
      );
    }
    return super.canActivate(context);
  }

  override handleRequest<T = Principal>(
    error: unknown,
    principal: T | false,
    _info: unknown,
    context: ExecutionContext,
  ): T {
    if (error instanceof ApiKeyRejected) {
      this.apiKeys.recordFailure(error.reason, metaOf(context.switchToHttp().getRequest<FastifyRequest>()));
    }
    if (error instanceof AppException) throw error;
    if (error || !principal) throw new AppException(ErrorCode.Unauthorized, 'Valid credentials are required');
    return principal;
  }
}
