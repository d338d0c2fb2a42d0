import { useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, newSession } from '../support/auth';
import { UNLIMITED_RATES } from '../support/fuzz';
import { Headers, registerNode } from '../support/nodes';
import type { OpenApiDocument, Operation } from '../support/openapi';
import { operationsOf } from '../support/openapi-conformance';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
/** Probes and scrapers: load balancers and monitoring systems add their own parameters (README, HTTP conventions). */
const IGNORING = ['GET /api/v1/health', 'GET /api/v1/health/ready'];

interface QueryParameter {
  name: string;
  in: string;
  schema?: { type?: string; format?: string; enum?: unknown[]; minimum?: number };
}
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A value of the parameter's type, so an answer that names the parameter names its value, not its presence. */
function sample({ schema = {} }: QueryParameter): string {
  if (schema.enum?.length) return String(schema.enum[0]);
  if (schema.format === 'date-time') return '2026-01-01T00:00:00Z';
  if (schema.format === 'uuid') return UNKNOWN_ID;
  if (schema.type === 'integer' || schema.type === 'number') return String(schema.minimum ?? 1);
  if (schema.type === 'boolean') return 'false';
  return 'x';
}

/**
 * Every operation of the OpenAPI document refuses a query parameter it does not take with the answer a query DTO
 * gives one (422 `validation_error`, `details` naming it), routes that take no query included; health probes and
 * `/metrics` ignore the query. Each operation is called with credentials it accepts, so the 422 is the answer
 * the route gives, not a guard's 401/403.
 */
describe('an unknown query parameter, on every route', () => {
  const ctx = useAdminApp({ database: 'pglite', env: UNLIMITED_RATES });
  let doc: OpenApiDocument;
  let admin: Headers;
  let adminKey: Headers;
  let node: { id: string; headers: Headers };

  beforeAll(async () => {
    doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    admin = bearer(ctx.admin.accessToken);
    const key = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: admin,
      payload: { name: 'query', scopes: ['nodes:read'] },
    });
    adminKey = apiKeyHeader(key.json<{ api_key: string }>().api_key);
    const registered = await registerNode(ctx.app, admin);
    node = { id: registered.node_id, headers: apiKeyHeader(registered.node_api_key) };
  });

  const operation = (
    key: string,
  ): Operation & { 'x-node-agent'?: { node_param: string | null; users: boolean } } => {
    const [method, path] = key.split(' ');
    return doc.paths[path][method.toLowerCase()];
  };

  /** Every query parameter the document lists, with its operation (`GET /api/v1/tasks`). */
  const documentedQueryParameters = (): [string, QueryParameter][] =>
    operationsOf(doc).flatMap((key) =>
      ((operation(key).parameters ?? []) as QueryParameter[])
        .filter((parameter) => parameter.in === 'query')
        .map((parameter): [string, QueryParameter] => [key, parameter]),
    );

  /** The operation at its path, with credentials it accepts and (but for a GET or DELETE) an empty JSON body. */
  const call = (key: string, query: string) => {
    const [method, path] = key.split(' ') as [Method, string];
    const op = operation(key);
    const agent = op['x-node-agent'];
    const byNode = agent?.users === false;
    const url = path.replace(/\{([^}]+)\}/g, (_, name: string) =>
      byNode && name === agent?.node_param ? node.id : UNKNOWN_ID,
    );
    const security = (op.security ?? []) as Record<string, unknown>[];
    const credentials = byNode
      ? node.headers
      : security.length > 0 && !security.some((scheme) => 'bearer' in scheme)
        ? adminKey
        : admin;
    const body = method === 'GET' || method === 'DELETE' ? {} : { payload: {} };
    return ctx.app.inject({ method, url: `${url}${query}`, headers: credentials, ...body });
  };

  it('answers 422 validation_error naming it, exactly as a query DTO does, on every operation but the probes', async () => {
    const reference = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/tasks?zz_unknown=1',
      headers: admin,
    });
    const expected = reference.json<Record<string, unknown>>();
    delete expected.request_id;
    expect({ status: reference.statusCode, ...expected }).toEqual({
      status: 422,
      error: 'validation_error',
      message: 'Request validation failed',
      details: [{ field: 'zz_unknown', message: 'is not an allowed field' }],
    });
    const answers: Record<string, unknown> = {};
    for (const key of operationsOf(doc)) {
      const res = await call(key, '?zz_unknown=1');
      const { request_id, ...body } = res.json<Record<string, unknown>>();
      answers[key] = IGNORING.includes(key)
        ? res.statusCode
        : { status: res.statusCode, ...body, request_id: typeof request_id };
    }
    const wanted = Object.fromEntries(
      operationsOf(doc).map((key) => [
        key,
        IGNORING.includes(key) ? 200 : { status: 422, ...expected, request_id: 'string' },
      ]),
    );
    expect(answers).toEqual(wanted);
    expect(operationsOf(doc).length).toBeGreaterThan(50);
  });

  it('names every unknown parameter, and a non-admin’s `all=true` on the key list is refused, not ignored', async () => {
    const bob = await newSession(ctx.app, 'bob');
    const res = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/api-keys?all=true&zz_unknown=1',
      headers: bearer(bob.accessToken),
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().details).toEqual([
      { field: 'all', message: 'is not an allowed field' },
      { field: 'zz_unknown', message: 'is not an allowed field' },
    ]);
    // An empty query string is no parameter.
    for (const query of ['?', '?&']) {
      const empty = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/api-keys${query}`,
        headers: bearer(bob.accessToken),
      });
      expect({ query, status: empty.statusCode }).toEqual({ query, status: 200 });
    }
  });

  it('comes after the guards, as on a DTO route: 401 without credentials, 401 for a credential in the URL', async () => {
    for (const path of ['/api/v1/tasks', '/api/v1/api-keys']) {
      const anonymous = await ctx.app.inject({ method: 'GET', url: `${path}?zz_unknown=1` });
      expect({ path, status: anonymous.statusCode }).toEqual({ path, status: 401 });
      const token = ctx.admin.accessToken;
      const inUrl = await ctx.app.inject({
        method: 'GET',
        url: `${path}?access_token=${token}`,
        headers: admin,
      });
      expect({ path, status: inUrl.statusCode }).toEqual({ path, status: 401 });
    }
  });

  it('accepts every query parameter the document lists (negative control), and the probes and /metrics ignore others', async () => {
    const known = await ctx.app.inject({ method: 'GET', url: '/api/v1/tasks?limit=1', headers: admin });
    expect(known.statusCode).toBe(200);
    const refusedAsUnknown: string[] = [];
    const listed = documentedQueryParameters();
    for (const [key, parameter] of listed) {
      const res = await call(key, `?${parameter.name}=${encodeURIComponent(sample(parameter))}`);
      const details = res.statusCode === 422 ? res.json<{ details?: { message: string }[] }>().details : [];
      if (details?.some((detail) => detail.message === 'is not an allowed field'))
        refusedAsUnknown.push(`${key} ?${parameter.name}`);
    }
    expect(refusedAsUnknown).toEqual([]);
    expect(listed.length).toBeGreaterThan(10);
    for (const url of [
      '/api/v1/health?_=1733390000',
      '/api/v1/health/ready?zz_unknown=1',
      '/metrics?zz_unknown=1',
    ]) {
      const res = await ctx.app.inject({ method: 'GET', url });
      expect({ url, status: res.statusCode }).toEqual({ url, status: 200 });
    }
  });

  it('refuses a documented parameter given twice as given twice, on every operation that lists one', async () => {
    const wrong: Record<string, unknown> = {};
    const listed = documentedQueryParameters();
    for (const [key, parameter] of listed) {
      const value = encodeURIComponent(sample(parameter));
      const res = await call(key, `?${parameter.name}=${value}&${parameter.name}=${value}`);
      const details = res.json<{ details?: unknown }>().details;
      const wanted = [{ field: parameter.name, message: `${parameter.name} is given 2 times: give it once` }];
      if (res.statusCode !== 422 || JSON.stringify(details) !== JSON.stringify(wanted))
        wrong[`${key} ?${parameter.name}`] = { status: res.statusCode, details };
    }
    expect(wrong).toEqual({});
    expect(listed.length).toBeGreaterThan(10);
    // Each refused for its own reason: the repeated one as such, an unknown one (repeated too) as unknown, a
    // wrong value as wrong; three times is counted.
    const mixed = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/tasks?status=completed&status=failed&status=failed&zz_unknown=1&zz_unknown=2&limit=0',
      headers: admin,
    });
    expect(mixed.statusCode).toBe(422);
    expect(mixed.json<{ details: unknown[] }>().details).toEqual(
      expect.arrayContaining([
        { field: 'status', message: 'status is given 3 times: give it once' },
        { field: 'zz_unknown', message: 'is not an allowed field' },
        { field: 'limit', message: expect.stringContaining('limit must not be less than') },
      ]),
    );
    expect(mixed.json<{ details: unknown[] }>().details).toHaveLength(3);
  });

  it('is in the document: the probes are marked x-ignores-query, every other 422 names a query parameter', () => {
    const marked = operationsOf(doc).filter((key) => operation(key)['x-ignores-query'] === true);
    expect(marked).toEqual(IGNORING);
    const silent = operationsOf(doc).filter((key) => {
      const description = (operation(key).responses['422'] as { description?: string }).description ?? '';
      return !IGNORING.includes(key) && !/query/.test(description);
    });
    expect(silent).toEqual([]);
  });
});
