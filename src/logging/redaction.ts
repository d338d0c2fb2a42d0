import {
  containsApiKey,
  decodeQueryComponent,
  isCredentialParamName,
  queryValueHoldsApiKey,
} from '../common/auth/credentials-in-url';

/**
 * Credentials never reach a log line: headers that carry them and body fields that name them are replaced by
 * "[redacted]" (pino's redaction, compiled once when the logger is built and applied before serialisation).
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...['password', 'token', 'access_token', 'refresh_token', 'api_key', 'secret', 'authorization'].flatMap(
    (k) => [k, `*.${k}`, `*.*.${k}`],
  ),
];

/**
 * Credentials in a URL's query string (which we refuse anyway) never reach the log: a parameter named like a
 * credential, or whose name or value (percent-decoded, so `%76cp_…` is caught too) holds something shaped
 * like a VCP key, is written as `[redacted]`.
 */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const params = url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      const decodedName = decodeQueryComponent(name);
      if (containsApiKey(decodedName) || containsApiKey(name)) return '[redacted]';
      const value = eq < 0 ? '' : pair.slice(eq + 1);
      const secret =
        isCredentialParamName(decodedName) ||
        containsApiKey(decodeQueryComponent(value)) ||
        containsApiKey(value);
      return secret ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, at)}?${params.join('&')}`;
}

/** The parsed query, with the same rules as redactUrl. */
export function redactQuery(query: Record<string, unknown>): Record<string, unknown> {
  let clean = true;
  for (const k in query) {
    if (containsApiKey(k) || isCredentialParamName(k) || queryValueHoldsApiKey(query[k])) clean = false;
  }
  if (clean) return query;
  return Object.fromEntries(
    Object.entries(query).map(([k, v]) =>
      containsApiKey(k)
        ? ['[redacted]', '[redacted]']
        : [k, isCredentialParamName(k) || queryValueHoldsApiKey(v) ? '[redacted]' : v],
    ),
  );
}
