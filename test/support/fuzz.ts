import fc from 'fast-check';
import { isCredentialParamName } from '../../src/common/auth/credentials-in-url';

/** Hostile inputs for the route fuzzers (fuzz-routes, fuzz-node-routes), and how they read the OpenAPI document. */
export type OpenApiOperation = {
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: { $ref?: string; properties?: object } }> };
  'x-node-agent'?: { node_param: string | null; users: boolean };
  security?: Record<string, unknown>[];
};
export type OpenApiDocument = {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, { properties?: Record<string, unknown> }> };
};
export interface Route {
  path: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  operation: OpenApiOperation;
}

export const RUNS_PER_ROUTE = 30;

/**
 * A property's runs and seed. Fixed, so every CI run replays the same inputs; by hand, `FUZZ_SEED=<n>` explores
 * other inputs and `FUZZ_RUNS=<k>` makes k times as many (the e2e timeouts may then need `--testTimeout`).
 */
export function fuzzRuns(numRuns: number, seed: number): { numRuns: number; seed: number } {
  return { numRuns: numRuns * fuzzSetting('FUZZ_RUNS', 1), seed: fuzzSetting('FUZZ_SEED', seed) };
}

/** A mistyped value would otherwise become NaN and fast-check's default, quietly not what was asked. */
function fuzzSetting(name: 'FUZZ_RUNS' | 'FUZZ_SEED', fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || (name === 'FUZZ_RUNS' && Number(raw) === 0)) {
    throw new Error(
      `${name} must be a ${name === 'FUZZ_RUNS' ? 'positive' : 'non-negative'} integer, not "${raw}"`,
    );
  }
  return Number(raw);
}

/** Every rate-limit tier lifted out of reach, so the fuzz meets validation and handlers, never a 429. */
export const UNLIMITED_RATES = Object.fromEntries(
  ['GENERAL', 'AUTH', 'TASK', 'ADMIN', 'PROOF', 'NODE', 'AGENT'].flatMap((tier) => [
    [`RATE_LIMIT_${tier}_RPM`, '1000000'],
    [`RATE_LIMIT_${tier}_BURST`, '100000'],
  ]),
);

export const hostileString = fc.oneof(
  fc.constantFrom(
    '',
    '\u0000',
    'a\u0000b',
    '\uD800',
    '\uDFFFx',
    '\u202E\u0007\u001B[31m',
    '\r\nX-Injected: 1',
    '%00',
    '%',
    '../../../etc/passwd',
    "' OR 1=1 --",
    '{"$gt":""}',
    'NaN',
    'Infinity',
    '-0',
    '1e999',
    '9'.repeat(400),
    'x'.repeat(5000),
    '00000000-0000-0000-0000-000000000000',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
);
export const hostileNumber = fc.oneof(
  fc.constantFrom(0, -1, -0, 1.5, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, Number.MIN_VALUE),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const hostileLeaf = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null));
export const { value: hostileValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileLeaf,
    fc.array(tie('value'), { maxLength: 8 }),
    fc.array(hostileLeaf, { minLength: 200, maxLength: 2000 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
}));

/** Percent-encodes the UTF-8 of a string (a lone surrogate becomes U+FFFD). */
export const encode = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9._~-]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, '0')}`,
    )
    .join('');

export function routesOf(doc: OpenApiDocument): Route[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
      .map(([method, operation]) => ({ path, method: method.toUpperCase() as Route['method'], operation })),
  );
}

export function bodyKeys(doc: OpenApiDocument, operation: OpenApiOperation): string[] {
  const schema = operation.requestBody?.content?.['application/json']?.schema;
  const ref = schema?.$ref?.split('/').pop();
  const properties = ref ? doc.components?.schemas?.[ref]?.properties : schema?.properties;
  return Object.keys(properties ?? {});
}

/** A hostile body: any value, or the route's own fields with hostile values. */
export const hostileBody = (keys: string[]) =>
  fc.oneof(
    hostileValue,
    fc.record(Object.fromEntries(keys.map((key) => [key, hostileValue])), { requiredKeys: [] }),
  );

/**
 * A query string of hostile pairs (the route's own names among them), sometimes with a broken escape. Without
 * `credentialNames`, no parameter is named like a credential (`../etc/passwd` is one): the guard refuses those
 * with a 401 by design, before the route.
 */
export const hostileQuery = (operation: OpenApiOperation, credentialNames = true) => {
  const names = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
  return fc
    .tuple(
      fc.array(
        fc
          .tuple(fc.oneof(fc.constantFrom(...names, 'limit', 'cursor'), hostileString), hostileString)
          .filter(([name]) => credentialNames || !isCredentialParamName(name)),
        { maxLength: 4 },
      ),
      fc.boolean(),
    )
    .map(
      ([pairs, rawEscape]) =>
        (pairs.length > 0 || rawEscape ? '?' : '') +
        pairs.map(([name, value]) => `${encode(name)}=${encode(value)}`).join('&') +
        (rawEscape ? '&bad=%E0%A4%zz%' : ''),
    );
};

/** Whether an error answer has the documented shape: `{error, message, request_id}` with a snake_case code. */
export function isErrorShape(statusCode: number, body: string): boolean {
  if (statusCode < 400) return true;
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    return (
      typeof json.error === 'string' &&
      /^[a-z]+(_[a-z]+)*$/.test(json.error) &&
      typeof json.message === 'string' &&
      typeof json.request_id === 'string'
    );
  } catch {
    return false;
  }
}

/** What an HTTP header can carry: tab, printable ASCII and Latin-1 (Node refuses to send anything else). */
const headerSafe = hostileString.map((text) => text.replace(/[^\t\x20-\x7e\x80-\xff]/g, ''));

/** Hostile values for the route's documented request headers (Idempotency-Key, Claim-Next …), each optional. */
export const hostileHeaders = (operation: OpenApiOperation) => {
  const names = (operation.parameters ?? [])
    .filter((p) => p.in === 'header')
    .map((p) => p.name.toLowerCase());
  const value = fc.oneof(
    headerSafe,
    fc.constantFrom('0', '1', '16', '17', '-1', '1.0', ' 1', 'x'.repeat(256)),
  );
  // requiredKeys: []: an absent header is left out, never sent as undefined.
  return fc
    .record(Object.fromEntries(names.map((name) => [name, value])), { requiredKeys: [] })
    .map((headers) => headers as Record<string, string>);
};
