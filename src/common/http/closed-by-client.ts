import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** nginx's "client closed request": the client went away before any response was sent. */
export const CLIENT_CLOSED_STATUS = 499;

/** `status`: what the client got (a stream's 200), or CLIENT_CLOSED_STATUS when nothing was sent. */
export type ClosedByClientListener = (request: FastifyRequest, reply: FastifyReply, status: number) => void;

const IN_FLIGHT = Symbol('vcp.inFlightReply');
/** The reply the connection is serving now; null between requests; undefined until its first request. */
type WatchedSocket = Socket & { [IN_FLIGHT]?: FastifyReply | null };

/**
 * Whether a response is being written on this connection now (its head sent, its end not yet queued), so that
 * anything else written to the socket would land inside it. False between the requests of a keep-alive
 * connection; tracked only for connections whose requests reached Fastify (see onClosedByClient).
 */
export function responseUnderway(socket: Socket): boolean {
  const reply = (socket as WatchedSocket)[IN_FLIGHT];
  return !!reply && reply.raw.headersSent && !reply.raw.writableEnded;
}

const listenersByServer = new WeakMap<object, ClosedByClientListener[]>();

/**
 * Registers `listener` for requests whose client closed the connection before their response finished: an
 * event stream closed by its reader, an agent stopped mid-poll, a caller that gave up on a slow answer. Fastify
 * runs no onResponse hook for them (a response written to a closed socket never finishes), so without this they
 * would be neither logged nor counted. The watch is one `close` listener per connection, not per request — a
 * request only records itself on its socket (one property write) — so keep-alive traffic pays next to nothing.
 * With pipelining only the newest request of a connection is watched.
 */
export function onClosedByClient(fastify: FastifyInstance, listener: ClosedByClientListener): void {
  let listeners = listenersByServer.get(fastify);
  if (!listeners) {
    const all: ClosedByClientListener[] = (listeners = []);
    listenersByServer.set(fastify, all);
    function socketClosed(this: WatchedSocket) {
      const reply = this[IN_FLIGHT];
      this[IN_FLIGHT] = null;
      // Ended by us (finished or still flushing): the onResponse hooks have it, or nobody could time it.
      // A body never received in full (cut off, timed out) was answered by Node's parser: counted there.
      if (!reply || reply.raw.writableEnded || !reply.request.raw.complete) return;
      const status = reply.raw.headersSent ? reply.statusCode : CLIENT_CLOSED_STATUS;
      for (const notify of all) notify(reply.request, reply, status);
    }
    fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const socket = request.raw.socket as WatchedSocket;
      if (socket[IN_FLIGHT] === undefined) socket.once('close', socketClosed);
      socket[IN_FLIGHT] = reply;
      done();
    });
    fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      // Not kept past its response: an idle keep-alive connection must not hold a request and its reply.
      const socket = request.raw.socket as WatchedSocket;
      if (socket[IN_FLIGHT] === reply) socket[IN_FLIGHT] = null;
      done();
    });
  }
  listeners.push(listener);
}
