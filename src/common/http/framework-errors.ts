import { Logger } from '@nestjs/common';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { errorCodeForStatus } from '../errors/error-code';
import type { ErrorBody } from '../filters/all-exceptions.filter';
import type { SecurityHeaders } from './security-headers';

/** Our own words, not Fastify's: its messages quote the raw URL. */
const MESSAGES: Readonly<Record<string, string>> = {
  FST_ERR_BAD_URL: 'The URL is malformed: a percent-encoded sequence is not valid',
  FST_ERR_MAX_PARAM_LENGTH: 'A path parameter is too long',
};

const logger = new Logger('FrameworkErrors');

/** What onResponse hooks do for every other request (the request line, HTTP metrics), for these. */
export type RouterErrorListener = (request: FastifyRequest, reply: FastifyReply) => void;

const listenersByServer = new WeakMap<object, RouterErrorListener[]>();

/**
 * Registers `listener` for the requests the router of `fastify` refused: no hook runs for them, so the request
 * line and the HTTP metrics would miss them. Called once each answer is written.
 */
export function onRouterErrorAnswered(fastify: object, listener: RouterErrorListener): void {
  listenersByServer.set(fastify, [...(listenersByServer.get(fastify) ?? []), listener]);
}

/**
 * Fastify's `frameworkErrors`: its router refused the request before any route matched it (FST_ERR_BAD_URL,
 * FST_ERR_MAX_PARAM_LENGTH, FST_ERR_ASYNC_CONSTRAINT, and whatever later versions add). No hook runs for such a
 * request, so the API's error body and the headers the security and CORS hooks set are applied here; the status stays
 * Fastify's (400, 414, 500).
 */
export function frameworkErrorHandler(
  security: SecurityHeaders,
  cors: (request: FastifyRequest, reply: FastifyReply) => boolean,
) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const status =
      error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 600
        ? error.statusCode
        : 500;
    const request_id = String(request.id);
    if (status >= 500) logger.error({ err: error, request_id }, error.message);
    const body: ErrorBody = {
      error: errorCodeForStatus(status),
      message:
        status >= 500 ? 'Internal server error' : (MESSAGES[error.code] ?? 'The request URL is not valid'),
      request_id,
    };
    security.onRequest(request, reply);
    cors(request, reply);
    void reply.status(status).header('content-type', 'application/json; charset=utf-8');
    security.onSend(reply);
    reply.raw.once('finish', () => {
      for (const listener of listenersByServer.get(request.server) ?? []) listener(request, reply);
    });
    void reply.send(JSON.stringify(body));
  };
}
