import type { FastifyReply } from 'fastify';

/** Whether the client went away before its answer was sent (its connection closed under the request). */
export function clientGone(reply: FastifyReply): boolean {
  const response = reply.raw;
  return response.destroyed && !response.writableFinished;
}

/**
 * Aborts when the client goes away before its answer was sent (the connection closed under a request still
 * being worked on, e.g. a long poll whose caller stopped), so the work can stop instead of acting for no one.
 */
export function abandonedBy(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  if (clientGone(reply)) controller.abort();
  else
    response.once('close', () => {
      if (!response.writableFinished) controller.abort();
    });
  return controller.signal;
}
