import type { FastifyRequest } from 'fastify';
import { CLIENT_CLOSED_STATUS } from './closed-by-client';
import { addRouteConfig } from './route-config';

/** How a request outlives its service time: a long poll waiting for work, or a stream of events. */
export type LongLivedKind = 'long_poll' | 'stream';

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
