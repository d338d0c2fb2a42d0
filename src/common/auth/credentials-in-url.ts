/**
 * A VCP API key's shape (`vcp_` + 40 random + 6 checksum base62 characters; see api-key.format.ts), found
 * anywhere in a text. Used to refuse and redact keys that arrive in a URL, whatever the parameter is called:
 * proxies, browsers and logs keep URLs, so a key seen there must be treated as leaked and never stored again.
 */
export const API_KEY_PREFIX = 'vcp_';
/** The 401's message for a credential in a URL, on every route (AuthenticationGuard, the OpenAPI routes). */
export const CREDENTIAL_IN_URL_MESSAGE = 'Credentials are accepted only in headers, never in the URL';
export const API_KEY_BODY_LENGTH = 40;
export const API_KEY_CHECKSUM_LENGTH = 6;
const API_KEY_ANYWHERE = new RegExp(
  `${API_KEY_PREFIX}[0-9A-Za-z]{${API_KEY_BODY_LENGTH + API_KEY_CHECKSUM_LENGTH}}`,
);

/**
 * Any credential this service issues, by shape: a VCP key, a JWT (three base64url parts, the first a JSON
 * object, so `eyJ`) or a refresh token (`rt_` + 43 base64url characters, not glued to a word before it:
 * `short_`, `export_` are words, not tokens).
 */
const CREDENTIAL_ANYWHERE = new RegExp(
  `${API_KEY_ANYWHERE.source}|eyJ[\\w-]+\\.[\\w-]+\\.|(?<![0-9A-Za-z])rt_[\\w-]{43}`,
);

/**
 * Query parameter names that would carry a credential. Compared lower-case, without `-`, `_` or a `[…]` suffix
 * (`accessToken`, `access-token[]` and `access_token` are one name); a name ending in `token`, `secret`,
 * `password`, `passwd` or `apikey` (`client_secret`, `idToken`) carries one too.
 */
export const CREDENTIAL_PARAM_NAMES: ReadonlySet<string> = new Set([
  'api_key',
  'apikey',
  'api-key',
  'x-api-key',
  'key',
  'access_token',
  'accessToken',
  'token',
  'refresh_token',
  'refreshToken',
  'refresh',
  'jwt',
  'auth',
  'authorization',
  'bearer',
  'password',
  'passwd',
  'pass',
  'pwd',
  'secret',
  'client_secret',
]);
const NORMALIZED_PARAM_NAMES = new Set([...CREDENTIAL_PARAM_NAMES].map(normalizeParamName));
const CREDENTIAL_PARAM_SUFFIXES = ['token', 'secret', 'password', 'passwd', 'apikey'];

const MAX_DEPTH = 8;

function normalizeParamName(name: string): string {
  return name.replace(/\[.*$/, '').toLowerCase().replace(/[-_]/g, '');
}

export function isCredentialParamName(name: string): boolean {
  const normalized = normalizeParamName(name);
  return (
    NORMALIZED_PARAM_NAMES.has(normalized) ||
    CREDENTIAL_PARAM_SUFFIXES.some((suffix) => normalized.endsWith(suffix))
  );
}

export function containsApiKey(text: string): boolean {
  return API_KEY_ANYWHERE.test(text);
}

/** What every credential CREDENTIAL_ANYWHERE finds starts with: a text without one needs no regex. */
export const CREDENTIAL_PREFIXES: readonly string[] = [API_KEY_PREFIX, 'eyJ', 'rt_'];

/** A key, JWT or refresh token anywhere in `text`; the regex runs only when a cheap prefix test finds one. */
export function containsCredential(text: string): boolean {
  return CREDENTIAL_PREFIXES.some((prefix) => text.includes(prefix)) && CREDENTIAL_ANYWHERE.test(text);
}

/**
 * True when any value of a parsed query (strings, arrays, nested objects) holds something shaped like a key, a
 * JWT or a refresh token.
 */
export function queryValueHoldsCredential(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return containsCredential(value);
  if (depth >= MAX_DEPTH || value === null || typeof value !== 'object') return false;
  return Object.entries(value as Record<string, unknown>).some(
    ([name, item]) => containsCredential(name) || queryValueHoldsCredential(item, depth + 1),
  );
}

/** Percent-decoding that never throws: a malformed escape is judged as written. */
export function decodeQueryComponent(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text; // a malformed escape (`%zz`): the raw text is what a reader of the log would see
  }
}

/**
 * A URL path with every segment that holds a credential (`DELETE /api-keys/vcp_…`, a JWT pasted as a path)
 * written as `[redacted]`, for the log line and for error messages that name the path. Paths are checked on
 * every request, so the segments are split only when the cheap test finds a credential's prefix; a path with
 * a `%` is judged decoded as well, as the router will read it.
 */
export function redactPath(path: string): string {
  const suspect =
    containsCredential(path) || (path.includes('%') && containsCredential(decodeQueryComponent(path)));
  if (!suspect) return path;
  return path
    .split('/')
    .map((segment) =>
      containsCredential(segment) || containsCredential(decodeQueryComponent(segment))
        ? '[redacted]'
        : segment,
    )
    .join('/');
}
