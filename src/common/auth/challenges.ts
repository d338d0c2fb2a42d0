/**
 * The `WWW-Authenticate` challenges of a 401 (RFC 9110 §11.6.1: a 401 must carry one). Bearer, as RFC 6750
 * names it: an access token in `Authorization: Bearer`; the API key in `X-API-Key` has no registered scheme.
 */
export const CREDENTIALS_CHALLENGE = 'Bearer realm="vcp"';

/** A bearer token that was sent and refused (bad signature, expired, revoked): RFC 6750 §3.1 `invalid_token`. */
export const INVALID_TOKEN_CHALLENGE = 'Bearer realm="vcp", error="invalid_token"';
