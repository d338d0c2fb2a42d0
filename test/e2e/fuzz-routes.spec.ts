import fc from 'fast-check';
import { useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer } from '../support/auth';
import { TEST_DEFAULTS } from '../support/config';
import {
  bodyKeys,
  encode,
  fuzzRuns,
  hostileBody,
  hostileHeaders,
  hostileQuery,
  hostileString,
  isErrorShape,
  OpenApiDocument,
  routesOf,
  RUNS_PER_ROUTE,
  UNLIMITED_RATES,
} from '../support/fuzz';

/**
 * Every route of the OpenAPI document, called by an admin (every role and scope) with hostile bodies, query
 * strings and path parameters: control characters, NUL, lone surrogates, huge, negative and NaN-like numbers,
 * long and nested arrays within the body limit, wrong types. Whatever the input, the answer is never a 5xx, and
 * every refusal is `{error, message, request_id}`. The node protocol's node-key-only routes refuse an admin
 * (403): fuzz-node-routes.spec.ts fuzzes them with a node's own key.
 */
// A scope-free pile of routes that would end the fuzzing session itself; everything else is fuzzed.
const SKIPPED = new Set(['POST /api/v1/auth/logout-all']);
// Public routes whose body carries the credential: any string there is checked, and one no login issued (or a
// wrong password) is their own 401, not the guard's.
const CREDENTIAL_IN_BODY = new Set(['POST /api/v1/auth/login', 'POST /api/v1/auth/refresh']);

describe('fuzzing every public route: hostile bodies and query strings never get a 5xx', () => {
  const ctx = useAdminApp({ env: { ...TEST_DEFAULTS, ...UNLIMITED_RATES } });
  let doc: OpenApiDocument;

  let adminKey: string;

  beforeAll(async () => {
    doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json<OpenApiDocument>();
    const key = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: bearer(ctx.admin.accessToken),
      payload: { name: 'fuzz', scopes: ['nodes:read'] },
    });
    expect(key.statusCode).toBe(201);
    adminKey = key.json<{ api_key: string }>().api_key;
  });

  it('covers every route of the OpenAPI document', async () => {
    const routes = routesOf(doc);
    expect(routes.length).toBeGreaterThan(20);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const refusedByGuard = new Map<string, number>();
    let fuzzed = 0;
    for (const { path, method, operation } of routes) {
      if (SKIPPED.has(`${method} ${path}`) || operation['x-node-agent']?.users === false) continue;
      fuzzed++;
      // A route about the key itself (GET /auth/api-key/validate) offers no bearer scheme: it gets the admin's key.
      const credentials = operation.security?.some((scheme) => 'bearer' in scheme)
        ? bearer(ctx.admin.accessToken)
        : apiKeyHeader(adminKey);
      const pathValue = fc.oneof(hostileString, fc.uuid());
      await fc.assert(
        fc.asyncProperty(
          pathValue,
          hostileBody(bodyKeysOf(operation)),
          hostileQuery(operation, false),
          hostileHeaders(operation),
          async (param, payload, query, extraHeaders) => {
            const url = path.replace(/\{[^}]+\}/g, () => encode(param)) + query;
            const hasBody = method !== 'GET' && method !== 'DELETE';
            const started = performance.now();
            const res = await ctx.app.inject({
              method,
              url,
              headers: {
                ...extraHeaders,
                ...credentials,
                ...(hasBody ? { 'content-type': 'application/json' } : {}),
              },
              ...(hasBody ? { payload: JSON.stringify(payload) ?? 'null' } : {}),
            });
            statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
            const bodyCredentialRefused =
              res.statusCode === 401 && CREDENTIAL_IN_BODY.has(`${method} ${path}`);
            if ([401, 403, 429].includes(res.statusCode) && !bodyCredentialRefused) {
              const route = `${method} ${path} ${res.statusCode}`;
              refusedByGuard.set(route, (refusedByGuard.get(route) ?? 0) + 1);
            }
            const ms = performance.now() - started;
            // 503 is the documented overload answer (with Retry-After), not a failure; 15 s without one is a hang
            // (generous on a shared 2-core CI machine; a real hang is unbounded).
            if (
              (res.statusCode >= 500 && res.statusCode !== 503) ||
              !isErrorShape(res.statusCode, res.body) ||
              ms > 15_000
            ) {
              failures.push(
                `${method} ${url.slice(0, 200)} → ${res.statusCode} in ${Math.round(ms)} ms ${res.body.slice(0, 200)} ` +
                  JSON.stringify(payload)?.slice(0, 300) +
                  JSON.stringify(extraHeaders),
              );
            }
            return true;
          },
        ),
        fuzzRuns(RUNS_PER_ROUTE, 1301),
      );
    }
    expect(failures).toEqual([]);
    // Each route got credentials it accepts: the guard and the throttle refused none of its requests.
    expect(Object.fromEntries(refusedByGuard)).toEqual({});
    expect(fuzzed).toBeGreaterThan(20);
    // The inputs reached validation and handlers, not only the router: refusals and successes both occur.
    expect(statuses.get(422)).toBeGreaterThan(100);
    expect([...statuses.keys()].some((status) => status >= 200 && status < 300)).toBe(true);
  });

  const bodyKeysOf = (operation: OpenApiDocument['paths'][string][string]) => bodyKeys(doc, operation);
});
