/**
 * Port the authentication guard calls after a failed authentication on a protected route. The rate-limit
 * module implements it (so identity does not depend on rate limiting): it counts the failure against the
 * client and throws a 429 once the client is over its limit, so guessing keys or tokens is throttled like
 * guessing passwords on login. Also called for a wrong current password on a password change.
 */
export abstract class FailedAuthenticationThrottle {
  /** `client` is the request's address (`clientAddress`), null when unknown. */
  abstract recordFailure(client: string | null): Promise<void>;
}
