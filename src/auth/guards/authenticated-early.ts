import type { FastifyRequest } from 'fastify';

const AUTHENTICATED_EARLY = Symbol('vcp.authenticatedEarly');
type Marked = FastifyRequest & { [AUTHENTICATED_EARLY]?: boolean };

/** Set by EarlyAuthentication once the guards passed in onRequest. */
export function markAuthenticatedEarly(request: FastifyRequest): void {
  (request as Marked)[AUTHENTICATED_EARLY] = true;
}

/** True when EarlyAuthentication already authenticated this request (the global guard then skips). */
export function wasAuthenticatedEarly(request: FastifyRequest): boolean {
  return (request as Marked)[AUTHENTICATED_EARLY] === true;
}
