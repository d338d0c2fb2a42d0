import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { clientAddress } from './client-address';
import type { Principal, RequestMeta } from './principal';

type AuthedRequest = FastifyRequest & { user?: Principal };

/** The authenticated principal (set by the global guard). */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthedRequest>().user;
  if (!principal) throw new Error('CurrentPrincipal used on a route without authentication');
  return principal;
});

/**
 * Client address (as resolved by Fastify's trustProxy, if it is an IP), user agent, request id, and the API key
 * that authenticated the request (once the guard has run).
 */
export function requestMetaOf(request: FastifyRequest): RequestMeta {
  const userAgent = request.headers['user-agent'];
  return {
    ip: clientAddress(request),
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 255) : null,
    requestId: String(request.id),
    apiKeyId: (request as AuthedRequest).user?.keyId ?? null,
  };
}

export const CurrentRequestMeta = createParamDecorator((_data: unknown, ctx: ExecutionContext): RequestMeta =>
  requestMetaOf(ctx.switchToHttp().getRequest<FastifyRequest>()),
);
