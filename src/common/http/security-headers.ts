import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OnSendDone } from './fastify-hooks';
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

/** What helmet sets on every response: HSTS for a year with subdomains, nosniff, frame DENY, no-referrer, API CSP. */
const HELMET_OPTIONS: Parameters<typeof helmet>[0] = {
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
};

/**
 * The headers helmet would set, computed once by running its middleware against a recording response: with
 * these options none of them depends on the request (no nonces), so every response gets the same set.
 */
export function staticSecurityHeaders(): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  let done = false;
  helmet(HELMET_OPTIONS)({} as IncomingMessage, recorder as unknown as ServerResponse, () => (done = true));
  // helmet runs its middlewares synchronously; a version that stopped doing so must not ship without headers.
  if (!done || !headers['strict-transport-security']) throw new Error('helmet did not produce its headers');
  return Object.freeze(headers);
}

/** What the hooks of registerSecurityHeaders put on a response; also applied by hand where no hook runs. */
export interface SecurityHeaders {
  /** Before anything else: helmet's static set and the request id. */
  onRequest(request: FastifyRequest, reply: FastifyReply): void;
  /** Once the content type is known: the CSP for it, no-store, Expect-CT when configured. */
  onSend(reply: FastifyReply): void;
}

export function securityHeaders({ expectCtMaxAge }: { expectCtMaxAge: number | null }): SecurityHeaders {
  const headers = staticSecurityHeaders();
  return {
    onRequest(request, reply) {
      void reply.headers(headers);
      void reply.header(REQUEST_ID_HEADER, request.id);
    },
    onSend(reply) {
      const contentType = String(reply.getHeader('content-type') ?? '');
      void reply.header('content-security-policy', contentType.startsWith('text/html') ? HTML_CSP : API_CSP);
      if (!reply.hasHeader('cache-control') || contentType.startsWith('application/json')) {
        void reply.header('cache-control', 'no-store');
      }
      // Expect-CT is deprecated (Chrome removed it in v107, helmet in v7); sent only when explicitly configured.
      if (expectCtMaxAge !== null) {
        void reply.header('expect-ct', `max-age=${expectCtMaxAge}`);
      }
    },
  };
}

/**
 * Security headers in one onRequest hook: helmet's static set (computed once at boot, see above) and the
 * request id. An onSend hook then swaps in the HTML CSP for HTML, marks responses no-store unless a static
 * asset chose its own caching, and adds Expect-CT when configured.
 */
export function registerSecurityHeaders(
  app: NestFastifyApplication,
  config: { expectCtMaxAge: number | null },
): void {
  const security = securityHeaders(config);
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    security.onRequest(request, reply);
    done();
  });
  fastify.addHook(
    'onSend',
    (_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: OnSendDone) => {
      security.onSend(reply);
      done(null, payload);
    },
  );
}
