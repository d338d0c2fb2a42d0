import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { addRouteConfig } from './route-config';

/** How a request outlives its service time: a long poll waiting for work, or a stream of events. */
export type LongLivedKind = 'long_poll' | 'stream';

/** nginx's "client closed request": the client went away before any response was sent. */
export const CLIENT_CLOSED_STATUS = 499;

const LONG_LIVED_KEY = 'vcpLongLived';

interface LongLivedRoute {
  kind: LongLivedKind;
  /** Whether this request of the route waits (a claim with `wait_ms`); absent: every request does. */
  waits?: (request: FastifyRequest) => boolean;
}

/**
 * Marks a route whose requests stay open for reasons other than the service's work (waiting for work, a
 * stream): their duration says how long the client waited or listened, not how fast the service answered, so
 * the HTTP metrics observe it apart from the request-latency histogram (HttpMetricsHook).
 */
export function LongLived(kind: LongLivedKind, waits?: LongLivedRoute['waits']): MethodDecorator {
  return addRouteConfig({ [LONG_LIVED_KEY]: { kind, waits } satisfies LongLivedRoute });
}

const longLivedRouteOf = (config: unknown) =>
  (config as Record<string, LongLivedRoute | undefined> | undefined)?.[LONG_LIVED_KEY];

/**
 * The kind of wait a request's response ended, or undefined for an ordinary one. An error other than the
 * client's leaving (401, 404, 422, 429…) was answered before any wait began: ordinary service latency.
 */
export function longLivedKindOf(
  request: FastifyRequest,
  routeConfig: unknown,
  status: number,
): LongLivedKind | undefined {
  const route = longLivedRouteOf(routeConfig);
  if (!route || (status >= 400 && status !== CLIENT_CLOSED_STATUS)) return undefined;
  return !route.waits || route.waits(request) ? route.kind : undefined;
}

/** `status`: what the client got (the stream's 200), or CLIENT_CLOSED_STATUS when nothing was sent. */
export type ClosedByClientListener = (request: FastifyRequest, reply: FastifyReply, status: number) => void;

const listenersByServer = new WeakMap<object, ClosedByClientListener[]>();

/**
 * Registers `listener` for requests of long-lived routes whose client closed the connection before the
 * response finished (an event stream closed by its reader, an agent stopped mid-poll): the usual way such a
 * request ends, yet Fastify runs no onResponse hook for it. Watches those routes only (a route-level hook),
 * so other requests pay nothing; the first call must come before the routes are registered.
 */
export function onLongLivedClosedByClient(fastify: FastifyInstance, listener: ClosedByClientListener): void {
  let listeners = listenersByServer.get(fastify);
  if (!listeners) {
    const all: ClosedByClientListener[] = (listeners = []);
    listenersByServer.set(fastify, all);
    fastify.addHook('onRoute', (route: RouteOptions) => {
      if (!longLivedRouteOf(route.config)) return;
      const watchClose = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
        reply.raw.once('close', () => {
          // Ended by us (finished or still flushing): the onResponse hooks have it, or nobody could time it.
          // A body never received in full (cut off, timed out) was answered by Node's parser: counted there.
          if (reply.raw.writableEnded || !request.raw.complete) return;
          const status = reply.raw.headersSent ? reply.statusCode : CLIENT_CLOSED_STATUS;
          for (const notify of all) notify(request, reply, status);
        });
        done();
      };
      const existing = route.onRequest;
      route.onRequest = [
        ...(Array.isArray(existing) ? existing : existing ? [existing] : []),
        watchClose,
      ] as RouteOptions['onRequest'];
    });
  }
  listeners.push(listener);
}
