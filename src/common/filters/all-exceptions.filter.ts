import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppException } from '../errors/app.exception';
import { ErrorCode, errorCodeForStatus, ErrorReason } from '../errors/error-code';
import {
  isClientAbort,
  isRetryableConflict,
  isTransientDatabaseError,
} from '../errors/transient-database-error';
import { redactPath } from '../auth/credentials-in-url';
import { markShedLoad } from '../errors/shed-load';
import { UNSUPPORTED_MEDIA_TYPE } from '../errors/unsupported-media-type';
import { RepeatedWarnings } from '../logging/repeated-warnings';
import { CREDENTIALS_CHALLENGE } from '../auth/challenges';

export interface ErrorBody {
  error: ErrorCode;
  /** Only where the code covers several cases and the thrower named one (see ErrorReason). */
  reason?: ErrorReason;
  message: string;
  request_id: string;
  [extra: string]: unknown;
}

/**
 * The one place errors become responses: `{error, message, request_id}` with a stable code. Anything that is
 * not a known HTTP error is logged with its stack and answered with a generic 500, so internals never leak.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ExceptionFilter');
  /**
   * While the database is down every request fails the same way (hundreds a second): its cause is written once
   * a minute, with how many were left out; each request's own line (a 503) still names its request id. A deadlock
   * or serialization failure that ran out of retries is a bug's trace, not an outage: each is written.
   */
  private readonly databaseUnavailable = new RepeatedWarnings(this.logger);

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const { status, body, headers, allow } = this.toResponse(exception, request);
    if (status >= 500 && status !== Number(HttpStatus.SERVICE_UNAVAILABLE)) {
      this.logger.error(
        { err: exception, request_id: body.request_id },
        exception instanceof Error ? exception.message : 'Non-error thrown',
      );
    } else if (headers && isRetryableConflict(exception)) {
      this.logger.warn({ request_id: body.request_id }, `database conflict: ${String(exception)}`);
    } else if (headers) {
      this.databaseUnavailable.warn(
        `database unavailable: ${String(exception)} (request ${body.request_id})`,
      );
    } else if (isClientAbort(exception)) {
      this.logger.log({ request_id: body.request_id }, 'client aborted');
    }
    if (reply.sent) return;
    if (exception instanceof AppException && exception.shedsLoad) markShedLoad(request);
    if (exception instanceof AppException) void reply.headers(exception.headers);
    if (headers) void reply.headers(headers);
    if (allow) void reply.header('allow', allow);
    if (status === Number(HttpStatus.UNAUTHORIZED) && !reply.hasHeader('www-authenticate')) {
      void reply.header('www-authenticate', CREDENTIALS_CHALLENGE);
    }
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }

  private toResponse(
    exception: unknown,
    request: FastifyRequest,
  ): { status: number; body: ErrorBody; headers?: Record<string, string>; allow?: string } {
    const request_id = String(request.id);
    if (exception instanceof AppException) {
      const status = exception.getStatus();
      const message = status === 500 ? 'Internal server error' : exception.message;
      const reason = exception.publicReason === undefined ? {} : { reason: exception.publicReason };
      return { status, body: { error: exception.code, ...reason, message, request_id, ...exception.extra } };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const allow = status === 404 && isRouteNotFound(exception) ? allowedMethods(request) : [];
      if (allow.length > 0) {
        const path = redactPath(pathOf(request));
        const message = `${request.method} is not allowed on ${path}; allowed: ${allow.join(', ')}`;
        return {
          status: HttpStatus.METHOD_NOT_ALLOWED,
          body: { error: errorCodeForStatus(HttpStatus.METHOD_NOT_ALLOWED), message, request_id },
          allow: allow.join(', '),
        };
      }
      const code = errorCodeForStatus(status);
      const message =
        status >= 500 && status !== 503 ? 'Internal server error' : this.messageOf(exception, request);
      return { status, body: { error: code, message, request_id } };
    }
    if (isClientAbort(exception)) {
      // Answered only if the connection is still there to take it (it rarely is).
      const message = 'The request body ended before it was complete';
      return { status: HttpStatus.BAD_REQUEST, body: { error: ErrorCode.BadRequest, message, request_id } };
    }
    if (isTransientDatabaseError(exception)) {
      return {
        status: HttpStatus.SERVICE_UNAVAILABLE,
        body: {
          error: ErrorCode.ServiceUnavailable,
          message: 'The database is briefly unavailable; retry shortly',
          request_id,
        },
        headers: { 'Retry-After': '1' },
      };
    }
    return {
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      body: { error: ErrorCode.InternalError, message: 'Internal server error', request_id },
    };
  }

  private messageOf(exception: HttpException, request: FastifyRequest): string {
    const status = exception.getStatus();
    if (status === 404 && isRouteNotFound(exception)) {
      // The path is echoed to the client and into logs: a key or token pasted into it is not repeated.
      const path = pathOf(request);
      const message = `No route for ${request.method} ${redactPath(path)}`;
      // A browser opened on the server's address, or a path without the prefix (`/health`), is pointed the way;
      // so is the prefix itself, which has no route of its own.
      if (path === API_PREFIX || path === API_PREFIX.slice(0, -1)) {
        return `${message}: the API's routes are under ${API_PREFIX}, such as GET ${API_PREFIX}health (Swagger UI at /swagger-ui lists them)`;
      }
      return path.startsWith(API_PREFIX)
        ? message
        : `${message}: the API is under ${API_PREFIX} (Swagger UI at /swagger-ui)`;
    }
    if (status === 413) return 'Request body is too large';
    if (status === 415) return UNSUPPORTED_MEDIA_TYPE;
    const response = exception.getResponse();
    if (typeof response === 'string') return response;
    const message = (response as { message?: unknown }).message;
    if (typeof message === 'string') return message;
    if (Array.isArray(message)) return message.map(String).join('; ');
    return exception.message;
  }
}

const ROUTED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Nest's answer when no route matched the method and path (its not-found handler's "Cannot GET /x"). */
const isRouteNotFound = (exception: HttpException) => /^Cannot [A-Z]+ /.test(exception.message);

const pathOf = (request: FastifyRequest) => request.url.split('?')[0];
const API_PREFIX = '/api/v1/';

/**
 * The methods the path has routes for, when the request's method is not one of them: a 405 with `Allow` tells a
 * client it got the method wrong, not the path. OPTIONS (CORS preflights) keeps its own answers.
 */
function allowedMethods(request: FastifyRequest): string[] {
  const url = pathOf(request);
  // A route of this method that answered 404 itself (a static file it does not serve) is a plain 404.
  if (request.method === 'OPTIONS' || request.server.findRoute({ method: request.method, url }) !== null)
    return [];
  return ROUTED_METHODS.filter(
    (method) => method !== request.method && request.server.findRoute({ method, url }) !== null,
  );
}
