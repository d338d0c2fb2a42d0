import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** nginx's "client closed request": the client went away before any response was sent. */
export const CLIENT_CLOSED_STATUS = 499;

/** `status`: what the client got (a stream's 200), or CLIENT_CLOSED_STATUS when nothing was sent. */
export type ClosedByClientListener = (request: FastifyRequest, reply: FastifyReply, status: number) => void;

const OUTSTANDING = Symbol('vcp.outstandingReplies');
const ANSWERED = Symbol('vcp.answered');
const ON_ANSWERED = Symbol('vcp.onAnswered');
/**
 * The replies of this connection's requests not yet answered in full (undefined until its first request), and
 * what to do once none that arrived in full is left (afterPendingAnswers).
 */
type WatchedSocket = Socket & { [OUTSTANDING]?: Set<FastifyReply>; [ON_ANSWERED]?: () => void };

/**
 * Whether a request of this connection that arrived in full still awaits its answer or is receiving it, so
 * that anything else written to the socket now would be read as (or land inside) that answer. False between
 * the requests of a keep-alive connection, and for the request Node's parser is refusing (it never arrived in
 * full). Tracked for connections whose requests reached Fastify (see onClosedByClient).
 */
export function answerPending(socket: Socket): boolean {
  const outstanding = (socket as WatchedSocket)[OUTSTANDING];
  if (!outstanding) return false;
  for (const reply of outstanding) if (reply.request.raw.complete) return true;
  return false;
}

/**
 * Whether the app's answer to this request was sent in full (its onResponse ran): a request Node's parser
 * refuses after that (a body the client went on sending past a 413, then cut off) was already answered, logged
 * and counted. Tracked for servers whose requests are watched (see onClosedByClient).
 */
export function answeredInFull(request: IncomingMessage): boolean {
  return (request as IncomingMessage & { [ANSWERED]?: true })[ANSWERED] === true;
}

/**
 * Whether one of the connection's pending answers is a stream of events (`isStream` judges a reply): an answer
 * with no end to wait for.
 */
export function pendingStream(socket: Socket, isStream: (reply: FastifyReply) => boolean): boolean {
  for (const reply of (socket as WatchedSocket)[OUTSTANDING] ?? []) {
    if (reply.request.raw.complete && isStream(reply)) return true;
  }
  return false;
}

/**
 * Runs `then` once no request of this connection that arrived in full awaits or receives its answer (at once if
 * none does); never if the connection closes first. One per connection: a later call replaces an earlier one.
 */
export function afterPendingAnswers(socket: Socket, then: () => void): void {
  if (!answerPending(socket)) return then();
  (socket as WatchedSocket)[ON_ANSWERED] = then;
}

const listenersByServer = new WeakMap<object, ClosedByClientListener[]>();

/**
 * Registers `listener` for requests whose client closed the connection before their response finished: an
 * event stream closed by its reader, an agent stopped mid-poll, a caller that gave up on a slow answer. Fastify
 * runs no onResponse hook for them (a response written to a closed socket never finishes), so without this they
 * would be neither logged nor counted. The watch is one `close` listener per connection, not per request — a
 * request only adds its reply to its connection's set until answered — so keep-alive traffic pays next to
 * nothing. Pipelined requests are each watched.
 */
export function onClosedByClient(fastify: FastifyInstance, listener: ClosedByClientListener): void {
  let listeners = listenersByServer.get(fastify);
  if (!listeners) {
    const all: ClosedByClientListener[] = (listeners = []);
    listenersByServer.set(fastify, all);
    function socketClosed(this: WatchedSocket) {
      this[ON_ANSWERED] = undefined;
      const outstanding = this[OUTSTANDING];
      if (!outstanding) return;
      const left = [...outstanding];
      outstanding.clear();
      for (const reply of left) {
        // Ended by us (still flushing): nobody could time it further. A body never received in full (cut off,
        // timed out) was answered by Node's parser: counted there.
        if (reply.raw.writableEnded || !reply.request.raw.complete) continue;
        const status = reply.raw.headersSent ? reply.statusCode : CLIENT_CLOSED_STATUS;
        for (const notify of all) notify(reply.request, reply, status);
      }
    }
    fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const socket = request.raw.socket as WatchedSocket;
      let outstanding = socket[OUTSTANDING];
      if (!outstanding) {
        outstanding = socket[OUTSTANDING] = new Set();
        socket.once('close', socketClosed);
      }
      outstanding.add(reply);
      done();
    });
    fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      // Not kept past its response: an idle keep-alive connection must not hold a request and its reply.
      (request.raw as IncomingMessage & { [ANSWERED]?: true })[ANSWERED] = true;
      const socket = request.raw.socket as WatchedSocket;
      socket[OUTSTANDING]?.delete(reply);
      const then = socket[ON_ANSWERED];
      if (then && !answerPending(socket)) {
        socket[ON_ANSWERED] = undefined;
        then();
      }
      done();
    });
  }
  listeners.push(listener);
}
