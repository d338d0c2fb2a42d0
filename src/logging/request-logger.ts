import { Injectable } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Principal } from '../common/auth/principal';
import { onClientErrorAnswered, RefusedRequest } from '../common/http/client-errors';
import { onRouterErrorAnswered } from '../common/http/framework-errors';
import { onClosedByClient } from '../common/http/closed-by-client';
import { longLivedKindOf } from '../common/http/long-lived';
import { RouteTemplates, UNMATCHED_ROUTE } from '../common/http/route-templates';
import { wasShedLoad } from '../common/errors/shed-load';
import { redactHeaders, redactQuery, redactUrl } from './redaction';

type LoggedRequest = FastifyRequest & { user?: Principal };

/**
 * The one "request completed" line per request, written by a Fastify onResponse hook with a pino logger built
 * once and sharing the app logger's destination and base fields. Its line is assembled here from known fields
 * with credentials already removed (redactHeaders/redactQuery/redactUrl), so this logger has no redaction
 * paths of its own — the app logger keeps them for free-form app logs: `request_id`, `req` (id, method, url and query with
 * credentials redacted, headers with credential headers redacted, remote address and port), `route` (the
 * matched template, the path's template for a 405, or "unmatched"), `principal_id`, `api_key_id` when a key
 * was used, `res.statusCode` and `duration_ms`; `closed_by_client` on a request its client left before
 * the response was written (status 499 when nothing had been sent: warn, except on a long poll or a stream, where
 * that is how they end). Level: error from 500 (message "request errored", as pino-http wrote), warn from 400 and
 * for a 503 shedding load on purpose (AppException.overloaded), else info. Nothing is built for a level that is off, and no per-request child logger or async context is made:
 * app logs inside a request that matter name their request id themselves (audit, the exception filter).
 */
@Injectable()
export class RequestLogger {
  /** `appLogger`: the redacting root of Nest's Logger; `lines`: the request-line logger, same destination. */
  constructor(
    readonly appLogger: Logger,
    private readonly lines: Logger,
  ) {}

  /**
   * An info line of known, credential-free fields (`context` names the writer, as Nest's Logger does), written by
   * the request-line logger: the app logger would walk its redaction paths over every line, ~50 µs each.
   */
  plainLine(context: string, fields: Record<string, unknown>): void {
    if (this.lines.isLevelEnabled('info')) this.lines.info({ context, ...fields });
  }

  register(app: NestFastifyApplication): void {
    const logger = this.lines;
    const fastify = app.getHttpAdapter().getInstance();
    const templates = RouteTemplates.of(fastify);
    const writeLine = (request: LoggedRequest, reply: FastifyReply, closedWith?: number) => {
      const status = closedWith ?? reply.statusCode;
      const routeOptions = request.routeOptions;
      // A client leaving a long poll or a stream is how those end, not a failure to warn about; leaving any
      // other request before its answer (499) is a warning like other 4xx: often a client's timeout.
      const endedAsLongLived =
        closedWith !== undefined && longLivedKindOf(request, routeOptions.config, status) !== undefined;
      // A 503 shedding load on purpose (a full queue, shutting down) is expected under load, like a 429.
      const fault = status >= 500 && !(status === 503 && wasShedLoad(request));
      const level = fault ? 'error' : status >= 400 && !endedAsLongLived ? 'warn' : 'info';
      if (logger.isLevelEnabled(level)) {
        const route = templates.labelOf(request, routeOptions.url, status) ?? UNMATCHED_ROUTE;
        const line = lineOf(request, route, status, reply.elapsedTime, fault);
        if (closedWith !== undefined) line.closed_by_client = true;
        logger[level](line, fault ? 'request errored' : 'request completed');
      }
    };
    fastify.addHook('onResponse', (request: LoggedRequest, reply: FastifyReply, done: () => void) => {
      writeLine(request, reply);
      done();
    });
    onRouterErrorAnswered(fastify, (request, reply) => writeLine(request, reply));
    onClosedByClient(fastify, writeLine);
    onClientErrorAnswered(fastify, (refused) => {
      if (logger.isLevelEnabled('warn')) {
        const route = templates.templateOf(refused.method, refused.url) ?? UNMATCHED_ROUTE;
        logger.warn(refusedLineOf(refused, route), message(refused.status));
      }
    });
  }
}

const message = (status: number) => (status >= 500 ? 'request errored' : 'request completed');

function lineOf(
  request: LoggedRequest,
  route: string,
  status: number,
  elapsedMs: number,
  fault: boolean,
): Record<string, unknown> {
  const raw = request.raw;
  const socket = raw.socket as { remoteAddress?: string; remotePort?: number } | undefined;
  const user = request.user;
  const query = request.query as Record<string, unknown> | undefined;
  const line: Record<string, unknown> = {
    request_id: request.id,
    req: {
      id: request.id,
      method: raw.method,
      url: raw.url ? redactUrl(raw.url) : raw.url,
      query: query ? redactQuery(query) : query,
      headers: redactHeaders(raw.headers),
      remoteAddress: socket?.remoteAddress,
      remotePort: socket?.remotePort,
    },
    route,
    principal_id: user?.userId ?? null,
  };
  if (user?.keyId) line.api_key_id = user.keyId;
  line.res = { statusCode: status };
  line.duration_ms = Math.round(elapsedMs);
  if (fault) line.err = new Error(`failed with status code ${status}`);
  return line;
}

/**
 * The line of a request Node's HTTP parser refused (400, 408, 431): what is known of it, credentials removed as
 * on every line, the route its method and URL match (else "unmatched"), `client_error` naming Node's reason;
 * no duration (nothing timed it) and no principal.
 */
function refusedLineOf(refused: RefusedRequest, route: string): Record<string, unknown> {
  const { requestId, socket } = refused;
  return {
    request_id: requestId,
    req: {
      id: requestId,
      method: refused.method,
      url: refused.url ? redactUrl(refused.url) : undefined,
      headers: refused.headers ? redactHeaders(refused.headers) : undefined,
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
    },
    route,
    principal_id: null,
    client_error: refused.code,
    res: { statusCode: refused.status },
  };
}
