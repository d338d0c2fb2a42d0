import fc from 'fast-check';
import { useAdminApp } from '../support/admin';
import { bearer } from '../support/auth';
import { TEST_DEFAULTS } from '../support/config';
import {
  bodyKeys,
  encode,
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

describe('fuzzing every public route: hostile bodies and query strings never get a 5xx', () => {
  const ctx = useAdminApp({ env: { ...TEST_DEFAULTS, ...UNLIMITED_RATES } });
  let doc: OpenApiDocument;

  beforeAll(async () => {
    doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json<OpenApiDocument>();
  });

  it('covers every route of the OpenAPI document', async () => {
    const routes = routesOf(doc);
    expect(routes.length).toBeGreaterThan(20);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let fuzzed = 0;
    for (const { path, method, operation } of routes) {
      if (SKIPPED.has(`${method} ${path}`) || operation['x-node-agent']?.users === false) continue;
      fuzzed++;
      const pathValue = fc.oneof(hostileString, fc.uuid());
      await fc.assert(
        fc.asyncProperty(
          pathValue,
          hostileBody(bodyKeysOf(operation)),
          hostileQuery(operation),
          hostileHeaders(operation),
          async (param, payload, query, extraHeaders) => {
            const url = path.replace(/\{[^}]+\}/g, () => encode(param)) + query;
            const hasBody = method !== 'GET' && method !== 'DELETE';
            const res = await ctx.app.inject({
              method,
              url,
              headers: {
                ...extraHeaders,
                ...bearer(ctx.admin.accessToken),
                ...(hasBody ? { 'content-type': 'application/json' } : {}),
              },
              ...(hasBody ? { payload: JSON.stringify(payload) ?? 'null' } : {}),
            });
            statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
            // 503 is the documented overload answer (with Retry-After), not a failure.
            if (
              (res.statusCode >= 500 && res.statusCode !== 503) ||
              !isErrorShape(res.statusCode, res.body)
            ) {
              failures.push(
                `${method} ${url.slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 200)} ` +
                  JSON.stringify(payload)?.slice(0, 300) +
                  JSON.stringify(extraHeaders),
              );
            }
            return true;
          },
        ),
        { numRuns: RUNS_PER_ROUTE, seed: 1301 },
      );
    }
    expect(failures).toEqual([]);
    expect(fuzzed).toBeGreaterThan(20);
    // The inputs reached validation and handlers, not only the router: refusals and successes both occur.
    expect(statuses.get(422)).toBeGreaterThan(100);
    expect([...statuses.keys()].some((status) => status >= 200 && status < 300)).toBe(true);
  });

  const bodyKeysOf = (operation: OpenApiDocument['paths'][string][string]) => bodyKeys(doc, operation);
});
