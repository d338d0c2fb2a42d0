import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { errorCodeForStatus } from '../errors/error-code';
import { API_CSP } from './security-headers';

/**
 * The headers helmet and the onSend hook put on every API response, for answers written straight to the socket,
 * where no Fastify hook runs.
 */
const SOCKET_ANSWER_HEADERS: Record<string, string> = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': API_CSP,
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  connection: 'close',
};

function statusFor(error: NodeJS.ErrnoException): number {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  if (error.code === 'HPE_HEADER_OVERFLOW') return 431;
  return 400;
}

const MESSAGES: Record<number, string> = {
  408: 'The request was not received in time',
  431: 'Request headers are too large',
  400: 'Malformed HTTP request',
};

/**
 * Fastify's `clientErrorHandler`: Node's HTTP parser refused the request (malformed, headers too large) or it
 * did not arrive within HTTP_REQUEST_TIMEOUT_MS. No Fastify request exists yet, so the API's JSON error body,
 * a fresh request id and the security headers are written here by hand. Nothing is written once a response
 * has started on the socket: that would corrupt it for the client.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable && socket.bytesWritten === 0) {
    const status = statusFor(error);
    const requestId = randomUUID();
    const body = JSON.stringify({
      error: errorCodeForStatus(status),
      message: MESSAGES[status],
      request_id: requestId,
    });
    const headers = {
      ...SOCKET_ANSWER_HEADERS,
      'x-request-id': requestId,
      'content-length': String(Buffer.byteLength(body)),
    };
    const head = Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head}\r\n${body}`);
  }
  // end() rather than destroy(): destroying with unread input makes the kernel send a RST that can discard
  // the answer before the client reads it (see lingering-close.ts); a stalled client is cut off by the timer.
  socket.end();
  setTimeout(() => socket.destroy(), 1_000).unref();
}
