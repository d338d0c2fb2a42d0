import {
  containsCredential,
  CREDENTIAL_PREFIXES,
  decodeQueryComponent,
  isCredentialParamName,
  queryValueHoldsCredential,
  redactPath,
} from '../common/auth/credentials-in-url';
import { hasUnsafeCharacters, neutralize, UNSAFE_CHARACTER } from '../common/text/sanitize';

/**
 * Credentials never reach a log line: headers that carry them and body fields that name them are replaced by
 * "[redacted]" (pino's redaction, compiled once when the logger is built and applied before serialisation).
 */
const CREDENTIAL_FIELDS = [
  'password',
  'token',
  'access_token',
  'refresh_token',
  'api_key',
  'secret',
  'authorization',
];
const CREDENTIAL_HEADERS = new Set([
  ...CREDENTIAL_FIELDS,
  'x-api-key',
  'proxy-authorization',
  'cookie',
  'set-cookie',
]);
/**
 * A header whose (lower-case) name holds one of these carries a credential: X-Auth-Token, Api-Key,
 * X-Access-Key, X-Private-Key, X-Credential, X-Session, X-Pwd.
 */
const CREDENTIAL_NAME =
  /auth|token|secret|passw|pwd|api[-_]?key|access[-_]?key|private[-_]?key|credential|session/;
/** A value in an HTTP authentication scheme's form (`Bearer …`), whatever header carries it: another system's token. */
const AUTH_SCHEME_VALUE = /^\s*(?:bearer|basic|digest|negotiate)\s+\S/i;
/**
 * What a header value must hold for the credential or the control-character check to matter. One regex pass
 * per value (measured as cheap as three `includes`, and it answers both); the exact checks run only on a hit.
 */
const WORTH_A_LOOK = new RegExp(`${CREDENTIAL_PREFIXES.join('|')}|${UNSAFE_CHARACTER.source}`);

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...CREDENTIAL_FIELDS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
];

/**
 * Request headers for the request log line, with every header REDACTED_PATHS would censor replaced by
 * "[redacted]". The request line is built by hand from known fields, so it skips pino's path redaction (which
 * walked every wildcard path on every request and cost more than the rest of the line). Clients and proxies
 * invent their own credential headers, so a header is also censored when its name says it carries one, or
 * when its value holds something shaped like a key, JWT or refresh token (a token pasted into `Referer`).
 * Control characters in the other values are escaped (see `escaped`).
 */
export function redactHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const name in headers) {
    const value = headers[name];
    if (isCredentialHeader(name)) copy[name] = '[redacted]';
    else if (typeof value === 'string' && AUTH_SCHEME_VALUE.test(value)) copy[name] = '[redacted]';
    else if (typeof value === 'string' && !WORTH_A_LOOK.test(value)) copy[name] = value;
    else copy[name] = holdsCredential(value) ? '[redacted]' : escaped(value);
  }
  return copy;
}

const isCredentialHeader = (name: string) => CREDENTIAL_HEADERS.has(name) || CREDENTIAL_NAME.test(name);

/**
 * Node's parser lets bytes 0x80–0xFF through in header values (read as Latin-1), so a value can hold C1
 * controls (U+009B is a terminal's CSI, U+0085 a line break to some readers) that JSON leaves raw: they are
 * escaped as the audit trail escapes them. One regex test per value; the copy only when it finds one.
 */
function escaped(value: unknown): unknown {
  if (typeof value === 'string') return hasUnsafeCharacters(value) ? neutralize(value) : value;
  return Array.isArray(value) ? value.map(escaped) : value;
}

/** A header value is a string, or an array of them for a repeated `set-cookie`. */
const holdsCredential = (value: unknown): boolean =>
  typeof value === 'string'
    ? containsCredential(value)
    : Array.isArray(value) && value.some((item) => typeof item === 'string' && containsCredential(item));

/**
 * Credentials in a URL never reach the log: a path segment, or a query parameter named like a credential (the
 * query is refused anyway), or whose name or value (percent-decoded, so `%76cp_…` is caught too) holds
 * something shaped like a VCP key, a JWT or a refresh token, is written as `[redacted]`.
 */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return redactPath(url);
  const params = url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      const decodedName = decodeQueryComponent(name);
      if (containsCredential(decodedName) || containsCredential(name)) return '[redacted]';
      const value = eq < 0 ? '' : pair.slice(eq + 1);
      const secret =
        isCredentialParamName(decodedName) ||
        containsCredential(decodeQueryComponent(value)) ||
        containsCredential(value);
      return secret ? `${name}=[redacted]` : pair;
    });
  return `${redactPath(url.slice(0, at))}?${params.join('&')}`;
}

/** The parsed query, with the same rules as redactUrl. */
export function redactQuery(query: Record<string, unknown>): Record<string, unknown> {
  let clean = true;
  for (const k in query) {
    if (containsCredential(k) || isCredentialParamName(k) || queryValueHoldsCredential(query[k]))
      clean = false;
  }
  if (clean) return query;
  return Object.fromEntries(
    Object.entries(query).map(([k, v]) =>
      containsCredential(k)
        ? ['[redacted]', '[redacted]']
        : [k, isCredentialParamName(k) || queryValueHoldsCredential(v) ? '[redacted]' : v],
    ),
  );
}
