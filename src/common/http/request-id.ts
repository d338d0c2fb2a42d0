import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isUuid } from '../validation/uuid';

export const REQUEST_ID_HEADER = 'x-request-id';

// A property of the message, not a WeakMap entry: this runs for every request.
const ASSIGNED_ID = Symbol('vcp.requestId');

/**
 * The id of a request (Fastify's genReqId): the same on every call for one request, so an answer written
 * outside Fastify for it (its body cut off, answerClientError) carries the id its other lines carry.
 * Accepts a caller's X-Request-Id only when it is a UUID: anything else could smuggle log-injection text or
 * unbounded data into every log line, so it is replaced by a fresh id.
 */
export function requestIdFor(req: IncomingMessage & { [ASSIGNED_ID]?: string }): string {
  if (req[ASSIGNED_ID] === undefined) {
    const incoming = req.headers[REQUEST_ID_HEADER];
    req[ASSIGNED_ID] = isUuid(incoming) ? incoming.toLowerCase() : randomUUID();
  }
  return req[ASSIGNED_ID];
}
