import type { NestFastifyApplication } from '@nestjs/platform-fastify';

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
];

/**
 * Exact-match origins only (config refuses `*` and `null`). An unknown origin gets no
 * Access-Control-Allow-Origin at all; `Vary: Origin` keeps caches from serving one origin's answer to another.
 */
export function enableCors(app: NestFastifyApplication, allowedOrigins: readonly string[]): void {
  const allowed = new Set(allowedOrigins);
  app.enableCors({
    origin: (origin: string | undefined, callback: (error: Error | null, allow: boolean) => void) =>
      callback(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    // Bearer tokens and API keys travel in headers; no cookies, so no credentialed CORS.
    credentials: false,
    maxAge: 600,
    strictPreflight: false,
  });
}
