import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeyAuthService } from '../../api-keys/api-key-auth.service';
import { ApiKeyRejected } from '../../api-keys/api-key.strategy';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { FailedAuthenticationThrottle } from '../../common/auth/failed-authentication.throttle';
import {
  API_KEY_PREFIX,
  CREDENTIAL_IN_URL_MESSAGE,
  CREDENTIAL_PARAM_NAMES,
  isCredentialParamName,
  queryValueHoldsCredential,
} from '../../common/auth/credentials-in-url';
import { clientAddress } from '../../common/auth/client-address';
import { announceKeySunset } from '../../common/auth/key-sunset';
import { INVALID_TOKEN_CHALLENGE } from '../../common/auth/challenges';
import { IS_PUBLIC_KEY } from '../../common/auth/public.decorator';
import { routeMetadata } from '../../common/http/route-metadata';
import type { Principal } from '../../common/auth/principal';
import { requestMetaOf } from '../../common/auth/request-context.decorator';
import { VcpMetrics } from '../../metrics/vcp-metrics';
import { wasAuthenticatedEarly } from './authenticated-early';
import { invalidToken } from '../strategies/jwt.strategy';

/** Query parameters that would carry a credential in a URL, where proxies, browsers and logs keep it. */
export const KEY_QUERY_PARAMS: readonly string[] = [...CREDENTIAL_PARAM_NAMES];

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
    private readonly metrics: VcpMetrics,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = routeMetadata<boolean>(this.reflector, IS_PUBLIC_KEY, context);
    const request = context.getArgByIndex<FastifyRequest & { user?: Principal }>(0); // no switchToHttp() closures
    const query = (request.query ?? {}) as Record<string, unknown>;
    // A key, JWT or refresh token in the URL is refused on every route, public ones included, and whatever the
    // parameter's name: accepting it anywhere would teach clients to put credentials where logs and proxies
    // keep them.
    if (
      queryValueHoldsCredential(query) ||
      (!isPublic && Object.keys(query).some((name) => isCredentialParamName(name)))
    ) {
      this.apiKeys.recordFailure('query_string', requestMetaOf(request));
      throw new AppException(ErrorCode.Unauthorized, CREDENTIAL_IN_URL_MESSAGE);
    }
    if (isPublic) return true;
    // A large-body route was authenticated in onRequest by this same guard (EarlyAuthentication).
    if (request.user && wasAuthenticatedEarly(request)) return true;
    try {
      const passed = (await super.canActivate(context)) as boolean;
      // Whoever still uses a key that is about to end learns it on every answer, not first from a 401.
      const sunset = request.user?.keySunset;
      if (sunset) announceKeySunset(context.switchToHttp().getResponse<FastifyReply>(), sunset);
      return passed;
    } catch (error) {
      if (error instanceof AppException && error.code === ErrorCode.Unauthorized) {
        // Counted, never audited: anyone can send bad bearer tokens, and a row each would let them flood the
        // audit table (README, Audit log). JWT first: a 401 with a bearer token means the token was refused.
        if (request.headers.authorization !== undefined) this.metrics.authEvent('access_token_failure');
        await this.failures.recordFailure(clientAddress(request));
      }
      throw error;
    }
  }

  override handleRequest<T = Principal>(
    error: unknown,
    principal: T | false,
    challenges: unknown,
    context: ExecutionContext,
  ): T {
    if (error instanceof ApiKeyRejected) {
      this.apiKeys.recordFailure(
        error.reason,
        requestMetaOf(context.switchToHttp().getRequest<FastifyRequest>()),
        error.key,
      );
    }
    if (error instanceof AppException) throw withTokenChallenge(error, context);
    // A strategy that threw (not refused) could not look the credentials up: the database is unreachable. That
    // is a 503 to retry, never a 401 that tells a client its valid key is bad.
    if (error)
      throw AppException.unavailable('Authentication is temporarily unavailable; retry shortly', 1000);
    if (!principal) {
      const request = context.switchToHttp().getRequest<FastifyRequest>();
      const refused = new AppException(
        ErrorCode.Unauthorized,
        refusal(request.headers.authorization, challenges),
      );
      throw withTokenChallenge(refused, context);
    }
    return principal;
  }
}

/** A 401 for a bearer token that was sent says so in its challenge (`error="invalid_token"`, RFC 6750). */
function withTokenChallenge(error: AppException, context: ExecutionContext): AppException {
  const authorization = context.switchToHttp().getRequest<FastifyRequest>().headers.authorization;
  if (
    error.code === ErrorCode.Unauthorized &&
    authorization !== undefined &&
    /^bearer\s+\S/i.test(authorization)
  ) {
    error.headers['WWW-Authenticate'] = INVALID_TOKEN_CHALLENGE;
  }
  return error;
}

/** Many APIs take their keys as bearer tokens, so a new client's likeliest mistake gets told where ours go. */
const KEY_AS_BEARER = new RegExp(`^bearer\\s+${API_KEY_PREFIX}`, 'i');

/**
 * Why no strategy accepted the request. `challenges`: what each strategy failed with (passport hands them over
 * in strategy order); jsonwebtoken checks the signature before the expiry, so an expired token was one of ours.
 */
function refusal(authorization: string | undefined, challenges: unknown): string {
  if (authorization !== undefined && KEY_AS_BEARER.test(authorization))
    return 'An API key goes in the X-API-Key header; Authorization: Bearer takes an access token (POST /api/v1/auth/login)';
  const tokenErrors = [challenges].flat().filter((challenge) => challenge instanceof Error);
  if (tokenErrors.some((challenge) => challenge.name === 'TokenExpiredError'))
    return 'The access token has expired: get a new one with POST /api/v1/auth/refresh, or log in again';
  if (tokenErrors.some((challenge) => JWT_ERRORS.has(challenge.name))) return invalidToken().message;
  return 'Valid credentials are required';
}

/** jsonwebtoken's refusals of a token it read (passport-jwt's own "No auth token" is a plain Error). */
const JWT_ERRORS = new Set(['JsonWebTokenError', 'TokenExpiredError', 'NotBeforeError']);
