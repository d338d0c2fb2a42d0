import type { FastifyRequest } from 'fastify';
import { isIP } from 'node:net';

/**
 * The client's address as an IP literal, or the socket peer's when it is not one.
 *
 * Behind a trusted proxy, Fastify's `request.ip` is whatever the proxy forwarded in X-Forwarded-For, unparsed:
 * `unknown` (which RFC 7239 permits), `1.2.3.4:80`, `999.1.1.1` or an IPv6 zone id all reach us. Such a value
 * identifies no client, and PostgreSQL's `inet` refuses it, so it is treated as unknown and the address we
 * do know (the proxy's) stands in for it: the request is still audited and rate-limited, never a 500.
 */
export function clientAddress(request: FastifyRequest): string | null {
  const forwarded = request.ip;
  if (typeof forwarded === 'string' && isIP(forwarded) !== 0 && !forwarded.includes('%')) return forwarded;
  const peer = request.socket?.remoteAddress;
  return typeof peer === 'string' && isIP(peer) !== 0 && !peer.includes('%') ? peer : null;
}
