import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isUuid } from '../validation/uuid';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Accepts a caller's X-Request-Id only when it is a UUID: anything else could smuggle log-injection text or
 * unbounded data into every log line, so it is replaced by a fresh id.
 */
export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  return isUuid(incoming) ? incoming.toLowerCase() : randomUUID();
}
