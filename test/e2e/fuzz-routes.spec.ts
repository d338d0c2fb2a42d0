import fc from 'fast-check';
import { useAdminApp } from '../support/admin';
import { bearer } from '../support/auth';
import { TEST_DEFAULTS } from '../support/config';

/**
 * Every route of the OpenAPI document, called by an admin (every role and scope) with hostile bodies, query
 * strings and path parameters: control characters, NUL, lone surrogates, huge, negative and NaN-like numbers,
 * long and nested arrays within the body limit, wrong types. Whatever the input, the answer is never a 5xx.
 */
type OpenApiOperation = {
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: { $ref?: string; properties?: object } }> };
};
type OpenApiDocument = {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, { properties?: Record<string, unknown> }> };
};

const RUNS_PER_ROUTE = 30;
// A scope-free pile of routes that would end the fuzzing session itself; everything else is fuzzed.
const SKIPPED = new Set(['POST /api/v1/auth/logout-all']);

const hostileString = fc.oneof(
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
const hostileNumber = fc.oneof(
  fc.constantFrom(0, -1, -0, 1.5, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, Number.MIN_VALUE),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const hostileLeaf = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null));
const { value: hostileValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileLeaf,
    fc.array(tie('value'), { maxLength: 8 }),
    fc.array(hostileLeaf, { minLength: 200, maxLength: 2000 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4 }),
  ),
}));

/** Percent-encodes the UTF-8 of a string (a lone surrogate becomes U+FFFD), and sometimes adds a raw escape. */
const encode = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9._~-]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).padStart(2, '0')}`,
    )
    .join('');

function bodyKeys(doc: OpenApiDocument, operation: OpenApiOperation): string[] {
  const schema = operation.requestBody?.content?.['application/json']?.schema;
  const ref = schema?.$ref?.split('/').pop();
  const properties = ref ? doc.components?.schemas?.[ref]?.properties : schema?.properties;
  return Object.keys(properties ?? {});
}

describe('fuzzing every public route: hostile bodies and query strings never get a 5xx', () => {
  const ctx = useAdminApp({
    env: {
      ...TEST_DEFAULTS,
      ...Object.fromEntries(
        ['GENERAL', 'AUTH', 'TASK', 'ADMIN', 'PROOF', 'NODE'].flatMap((tier) => [
          [`RATE_LIMIT_${tier}_RPM`, '1000000'],
          [`RATE_LIMIT_${tier}_BURST`, '100000'],
        ]),
      ),
    },
  });
  let doc: OpenApiDocument;

  beforeAll(async () => {
    doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json<OpenApiDocument>();
  });

  it('covers every route of the OpenAPI document', async () => {
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
    );
    expect(routes.length).toBeGreaterThan(20);
    const fiveHundreds: string[] = [];
    const statuses = new Map<number, number>();
    for (const { path, method, operation } of routes) {
      if (SKIPPED.has(`${method} ${path}`)) continue;
      const keys = bodyKeys(doc, operation);
      const queryNames = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      const pathValue = fc.oneof(hostileString, fc.uuid());
      const body = fc.oneof(
        hostileValue,
        fc.record(Object.fromEntries(keys.map((key) => [key, hostileValue])), { requiredKeys: [] }),
      );
      const query = fc.array(
        fc.tuple(fc.oneof(fc.constantFrom(...queryNames, 'limit', 'cursor'), hostileString), hostileString),
        { maxLength: 4 },
      );
      await fc.assert(
        fc.asyncProperty(pathValue, body, query, fc.boolean(), async (param, payload, pairs, rawEscape) => {
          const url =
            path.replace(/\{[^}]+\}/g, () => encode(param)) +
            (pairs.length > 0 || rawEscape ? '?' : '') +
            pairs.map(([name, value]) => `${encode(name)}=${encode(value)}`).join('&') +
            (rawEscape ? '&bad=%E0%A4%zz%' : '');
          const hasBody = method !== 'GET' && method !== 'DELETE';
          const res = await ctx.app.inject({
            method: method as 'GET',
            url,
            headers: {
              ...bearer(ctx.admin.accessToken),
              ...(hasBody ? { 'content-type': 'application/json' } : {}),
            },
            ...(hasBody ? { payload: JSON.stringify(payload) ?? 'null' } : {}),
          });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          // 503 is the documented overload answer (with Retry-After), not a failure.
          if (res.statusCode >= 500 && res.statusCode !== 503) {
            fiveHundreds.push(
              `${method} ${url.slice(0, 200)} → ${res.statusCode} ${JSON.stringify(payload)?.slice(0, 300)}`,
            );
          }
          return true;
        }),
        { numRuns: RUNS_PER_ROUTE, seed: 1301 },
      );
    }
    expect(fiveHundreds).toEqual([]);
    // The inputs reached validation and handlers, not only the router: refusals and successes both occur.
    expect(statuses.get(422)).toBeGreaterThan(100);
    expect([...statuses.keys()].some((status) => status >= 200 && status < 300)).toBe(true);
  });
});
