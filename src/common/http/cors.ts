import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { REPLACED_BY_HEADER, SUNSET_HEADER } from '../auth/key-sunset';

export const CORS_ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'X-API-Key',
  'Idempotency-Key',
  'X-Request-Id',
];
export const CORS_EXPOSED_HEADERS = [
  'X-Request-Id',
  'Retry-After',
  // The names RateLimitGuard sends (the X- draft headers), not the IETF `RateLimit-*` ones.
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  SUNSET_HEADER,
  REPLACED_BY_HEADER,
];

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
const ALLOWED_HEADERS = CORS_ALLOWED_HEADERS.join(', ');
const EXPOSED_HEADERS = CORS_EXPOSED_HEADERS.join(', ');
/** How long a browser may cache a preflight answer (seconds). */
const PREFLIGHT_MAX_AGE = '600';

/**
 * Exact-match origins only (config refuses `*` and `null`). An unknown origin gets no
 * Access-Control-Allow-Origin at all; `Vary: Origin` on every response keeps caches from serving one origin's
 * answer to another. Requests without an Origin header (servers, agents, curl) cost one header and nothing
 * else. An OPTIONS request from an allowed origin is a preflight, answered 204 here with the allowed methods
 * and headers; from any other origin it goes on to the router (no OPTIONS routes: 404). No credentials: bearer
 * tokens and API keys travel in headers and no cookie is used, so no credentialed CORS.
 */
export function enableCors(app: NestFastifyApplication, allowedOrigins: readonly string[]): void {
  const corsHeaders = corsResponseHeaders(allowedOrigins);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      if (!corsHeaders(request, reply) || request.raw.method !== 'OPTIONS') return done();
      void reply
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', PREFLIGHT_MAX_AGE)
        .code(204)
        .header('content-length', '0')
        .send();
    });
}

/**
 * Sets the CORS headers of an answer (not a preflight's); true when the request came from an allowed origin.
 * Also used where no hook runs (the router's own refusals), so a browser can read those errors too.
 */
export function corsResponseHeaders(
  allowedOrigins: readonly string[],
): (request: FastifyRequest, reply: FastifyReply) => boolean {
  const allowed = new Set(allowedOrigins);
  return (request, reply) => {
    void reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (origin === undefined || !allowed.has(origin)) return false;
    void reply.header('access-control-allow-origin', origin);
    void reply.header('access-control-expose-headers', EXPOSED_HEADERS);
    return true;
  };
}
