import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { errorCodeForStatus } from '../errors/error-code';
import { API_CSP, staticSecurityHeaders } from './security-headers';

let socketHeaders: Readonly<Record<string, string>> | undefined;

/**
 * The headers the security hooks put on every API response (helmet's static set, the API CSP, no-store), for
 * answers written straight to the socket, where no Fastify hook runs. One list, so the two cannot drift.
 */
function socketAnswerHeaders(): Readonly<Record<string, string>> {
  return (socketHeaders ??= Object.freeze({
    ...staticSecurityHeaders(),
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': API_CSP,
    connection: 'close',
  }));
}

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
      ...socketAnswerHeaders(),
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
