import helmet from '@fastify/helmet';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { REQUEST_ID_HEADER } from './request-id';

/** JSON needs nothing: an API response that a browser renders anyway can load and frame nothing. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";
/** Our HTML pages (Swagger UI, dashboard) load scripts and styles only from this origin; no inline code. */
export const HTML_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * helmet (through @fastify/helmet) sets the baseline on every response: HSTS for a year with subdomains,
 * nosniff, frame DENY, no-referrer, and the API CSP. An onSend hook then swaps in the HTML CSP for HTML,
 * marks responses no-store unless a static asset chose its own caching, and echoes the request id.
 */
export async function registerSecurityHeaders(
  app: NestFastifyApplication,
  { expectCtMaxAge }: { expectCtMaxAge: number | null },
): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    hsts: { maxAge: 31_536_000, includeSubDomains: true, preload: false },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    noSniff: true,
    hidePoweredBy: true,
    crossOriginEmbedderPolicy: false,
  });

  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
  });
  fastify.addHook('onSend', async (_request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const contentType = String(reply.getHeader('content-type') ?? '');
    void reply.header('content-security-policy', contentType.startsWith('text/html') ? HTML_CSP : API_CSP);
    if (!reply.hasHeader('cache-control') || contentType.startsWith('application/json')) {
      void reply.header('cache-control', 'no-store');
    }
    // Expect-CT is deprecated (Chrome removed it in v107, helmet in v7); sent only when explicitly configured.
    if (expectCtMaxAge !== null) {
      void reply.header('expect-ct', `max-age=${expectCtMaxAge}`);
    }
    return payload;
  });
}
