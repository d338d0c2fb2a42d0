import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../common/auth/principal';

const FASTIFY_REQUEST = Symbol('vcp.fastifyRequest');
type RawRequest = IncomingMessage & { [FASTIFY_REQUEST]?: FastifyRequest & { user?: Principal } };

/**
 * pino-http logs from the raw Node request, which knows neither the matched route nor who called. This hook
 * links the raw request to Fastify's, so the request's one log line can carry the route template and the
 * principal's id (an id only: the principal never holds a secret).
 */
export function registerRequestLogContext(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request: FastifyRequest, _reply: unknown, done: () => void) => {
      (request.raw as RawRequest)[FASTIFY_REQUEST] = request;
      done();
    });
}

/** Fields for the "request completed" line; empty while the request is still being served. */
export function requestLogFields(req: IncomingMessage, res: ServerResponse): Record<string, unknown> {
  const request = (req as RawRequest)[FASTIFY_REQUEST];
  if (!request || !res.writableEnded) return {};
  return {
    route: request.routeOptions.url ?? 'unmatched',
    principal_id: request.user?.userId ?? null,
    ...(request.user?.keyId ? { api_key_id: request.user.keyId } : {}),
  };
}
