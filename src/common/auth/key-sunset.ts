import type { FastifyReply } from 'fastify';

/** RFC 8594: when the server stops accepting the API key that authenticated the request (an HTTP-date). */
export const SUNSET_HEADER = 'Sunset';
/**
 * The id of the key that replaces it, when a rotation's grace period is what ends it. Only the id, which grants
 * nothing: whoever holds the old key learns that a successor exists, while the key itself is shown only once.
 */
export const REPLACED_BY_HEADER = 'X-API-Key-Replaced-By';

/** The coming end of an API key, as its responses announce it; worked out once per lookup, not per request. */
export interface KeySunset {
  /** The key's `expires_at` (an expiry it was created with, or the end of a rotation's grace) as an HTTP-date. */
  sunset: string;
  replacedBy: string | null;
}

export function keySunsetOf(expiresAt: Date | null, replacedBy: string | null): KeySunset | undefined {
  if (expiresAt === null) return undefined;
  return { sunset: expiresAt.toUTCString(), replacedBy };
}

/** Announces the key's end on the answer to a request it authenticated (whatever the answer's status). */
export function announceKeySunset(reply: FastifyReply, sunset: KeySunset | undefined): void {
  if (sunset === undefined) return;
  void reply.header(SUNSET_HEADER, sunset.sunset);
  if (sunset.replacedBy !== null) void reply.header(REPLACED_BY_HEADER, sunset.replacedBy);
}
