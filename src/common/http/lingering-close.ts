import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OnSendDone } from './fastify-hooks';

/** At most this much of an unread request body is read and thrown away after an early answer. */
export const LINGER_MAX_BYTES = 16 * 1024 * 1024;
/** And for at most this long; then the connection is closed whatever the client still sends. */
export const LINGER_MAX_MS = 5_000;

export interface LingerLimits {
  maxBytes: number;
  maxMs: number;
}

/**
 * Lingering close, as nginx does it. When the server answers before it has read the whole body (a 413, a 415,
 * a 401 from an onRequest check), closing the socket at once makes the kernel answer the client's unread
 * bytes with a RST, and a client that is still sending (Node's fetch) loses the response it had not yet read
 * and reports EPIPE/ECONNRESET instead of the 413. So the rest of the body is read and discarded, keeping the
 * connection open, until the body ends (the connection can then be reused), the client gives up, or a bound
 * in bytes or time is passed (then the socket is destroyed: a client streaming gigabytes is not served).
 * Fastify marks such replies `Connection: close`; that is removed here because Node would otherwise destroy
 * the socket right after the response, before the discard can run.
 */
export function registerLingeringClose(
  app: NestFastifyApplication,
  limits: LingerLimits = { maxBytes: LINGER_MAX_BYTES, maxMs: LINGER_MAX_MS },
): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onSend', (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: OnSendDone) => {
      const raw = request.raw;
      // `readableEnded` too: light-my-request's requests (app.inject) never set `complete`.
      if (!(raw.complete || raw.readableEnded || raw.destroyed || !hasBody(request))) {
        void reply.removeHeader('connection');
        discardRestOfBody(request, limits);
      }
      done(null, payload);
    });
}

function hasBody(request: FastifyRequest): boolean {
  const headers = request.headers;
  return headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
}

function discardRestOfBody(request: FastifyRequest, limits: LingerLimits): void {
  const raw = request.raw;
  let discarded = 0;
  const giveUp = () => {
    cleanUp();
    // Destroying a request whose body is incomplete destroys its socket.
    raw.destroy();
  };
  const timer = setTimeout(giveUp, limits.maxMs);
  timer.unref();
  // A 'data' listener also keeps Node from calling req._dump(), which would drop every listener.
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limits.maxBytes) giveUp();
  };
  const cleanUp = () => {
    clearTimeout(timer);
    raw.removeListener('data', onData);
    raw.removeListener('end', cleanUp);
    raw.removeListener('close', cleanUp);
  };
  raw.on('data', onData);
  raw.once('end', cleanUp);
  raw.once('close', cleanUp);
  raw.resume();
}
