import { HELLO_WASM_BASE64, TASK_EXAMPLES } from '../../src/tasks/dto/task-examples';
import { bearer } from '../support/auth';
import { registerNode } from '../support/nodes';
import { Json, useOpenApiDocument } from '../support/openapi';
import { postTask } from '../support/tasks';

/** Every `$ref` string anywhere under `value`. */
function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((item) => refsIn(item, found));
  else if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') found.push(inner);
      else refsIn(inner, found);
    }
  }
  return found;
}

/** What a client, code generator or Swagger UI reads from /api-docs/openapi.json. */
describe('the OpenAPI document', () => {
  const openapi = useOpenApiDocument();
  const { ctx, operation } = openapi;

  it('has no dangling reference (Swagger UI shows a resolver error for one)', () => {
    const resolves = (ref: string) =>
      ref
        .replace(/^#\//, '')
        .split('/')
        .reduce<unknown>((at, name) => (at as Json | undefined)?.[name], openapi.doc) !== undefined;
    const missing = refsIn(openapi.doc).filter((ref) => !resolves(ref));
    expect(missing).toEqual([]);
    expect(resolves('#/components/schemas/NoSuchSchema')).toBe(false);
    expect(refsIn(openapi.doc.components.schemas.ReadinessResponseDto)).toEqual([
      '#/components/schemas/CheckResultDto',
    ]);
  });

  it('describes every response and every parameter (Swagger UI shows an empty description as a blank)', () => {
    const blank: string[] = [];
    const isBlank = (described: { description?: unknown }) =>
      typeof described.description !== 'string' || described.description.trim() === '';
    for (const [path, item] of Object.entries(openapi.doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (isBlank(response as { description?: unknown })) blank.push(`${method} ${path} ${status}`);
        }
        for (const parameter of (op.parameters ?? []) as {
          in: string;
          name: string;
          description?: unknown;
        }[]) {
          if (isBlank(parameter)) blank.push(`${method} ${path} ${parameter.in} ${parameter.name}`);
        }
      }
    }
    expect(blank).toEqual([]);
  });

  it('describes the error body of every error response', () => {
    const bare: string[] = [];
    for (const [path, item] of Object.entries(openapi.doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          const schema = response.content?.['application/json']?.schema;
          if (Number(status) >= 400 && schema?.$ref !== '#/components/schemas/ErrorResponse')
            bare.push(`${method} ${path} ${status}`);
        }
      }
    }
    expect(bare).toEqual([]);
    expect(openapi.doc.components.schemas.ErrorResponse).toMatchObject({
      required: ['error', 'message', 'request_id'],
    });
  });

  it('names each route’s rate-limit tier and documents its 429; 422 where a body or query is validated', () => {
    const tiers = (path: string, method: string) => {
      const op = operation(path, method);
      const validated = /failed validation/.test(
        (op.responses['422'] as { description?: string } | undefined)?.description ?? '',
      );
      return [op['x-rate-limit-tier'], '429' in op.responses, validated];
    };
    expect(tiers('/api/v1/health', 'get')).toEqual(['none', false, false]);
    expect(tiers('/api/v1/tasks', 'post')).toEqual(['task', true, true]);
    expect(tiers('/api/v1/tasks', 'get')).toEqual(['task', true, true]);
    expect(tiers('/api/v1/auth/me', 'get')).toEqual(['general', true, false]);
    expect(tiers('/api/v1/nodes/{node_id}/claim', 'post')).toEqual(['agent', true, true]);
    expect(tiers('/api/v1/auth/login', 'post')).toEqual(['auth', true, true]);
    // Elsewhere a 422 is only the `%00` any URL may carry; a path parameter adds the router's 400 and 414.
    expect(operation('/api/v1/health', 'get').responses['422']).toMatchObject({
      description: expect.stringContaining('%00'),
    });
    expect(Object.keys(operation('/api/v1/tasks/{task_id}', 'get').responses)).toEqual(
      expect.arrayContaining(['400', '414']),
    );
    expect(operation('/api/v1/tasks/{task_id}/cancel', 'post').responses['400']).toMatchObject({
      description: expect.stringMatching(/not JSON.*percent-encoded/),
    });
  });

  it('documents the statuses the pipeline answers before a route runs, and the headers of every response', () => {
    const statuses = (path: string, method: string) =>
      ['400', '401', '413', '415'].filter((status) => status in operation(path, method).responses);
    // A public route refuses only a credential sent in its URL.
    expect(statuses('/api/v1/health', 'get')).toEqual(['401']);
    expect(operation('/api/v1/health', 'get').responses['401']).toMatchObject({
      description: expect.stringContaining('in the URL'),
    });
    expect(statuses('/api/v1/auth/register', 'post')).toEqual(['400', '401', '413', '415']);
    expect(statuses('/api/v1/auth/me', 'get')).toEqual(['401']);
    expect(statuses('/api/v1/tasks', 'post')).toEqual(['400', '401', '413', '415']);
    // A route that takes no body still parses one sent to it (any method but GET and HEAD).
    expect(statuses('/api/v1/auth/logout-all', 'post')).toEqual(['400', '401', '413', '415']);
    expect(statuses('/api/v1/api-keys/{key_id}', 'delete')).toEqual(['400', '401', '413', '415']);
    expect(operation('/api/v1/modules', 'post').responses['415']).toMatchObject({
      description: expect.stringContaining('application/wasm'),
    });
    for (const [path, method] of [
      ['/api/v1/tasks', 'post'],
      ['/api/v1/auth/logout-all', 'post'],
    ])
      expect(operation(path, method).responses['415']).toMatchObject({
        description: expect.stringContaining('content coding'),
      });
    const headers = (path: string, method: string, status: string) =>
      Object.keys(operation(path, method).responses[status].headers ?? {});
    expect(headers('/api/v1/health', 'get', '200')).toEqual(['X-Request-Id']);
    expect(headers('/api/v1/auth/me', 'get', '200')).toEqual([
      'X-Request-Id',
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
      'Sunset',
      'X-API-Key-Replaced-By',
    ]);
    expect(headers('/api/v1/auth/me', 'get', '429')).toContain('Retry-After');
    // Draining answers every route 503 shutting_down, with Retry-After.
    expect(headers('/api/v1/health', 'get', '503')).toContain('Retry-After');
    expect(operation('/api/v1/health/ready', 'get').responses['503']).toMatchObject({
      description: expect.stringMatching(/does not answer.*shutting_down/),
    });
    // An ending key's Sunset: on what answers after authentication, never on a refusal of the credentials or
    // on a route no key authenticates.
    expect(headers('/api/v1/auth/me', 'get', '403')).toContain('Sunset');
    expect(headers('/api/v1/auth/me', 'get', '401')).toEqual(['X-Request-Id', 'WWW-Authenticate']);
    expect(headers('/api/v1/auth/login', 'post', '200')).not.toContain('Sunset');
    expect(headers('/api/v1/tasks', 'post', '415')).not.toContain('Sunset');
  });

  it('refuses a credential in the URL of the document and of Swagger UI with the 401 every route answers', async () => {
    const credentials = [openapi.alice.apiKey, openapi.alice.accessToken, openapi.alice.refreshToken];
    const get = (url: string) => ctx.app.inject({ method: 'GET', url });
    for (const path of [
      '/api-docs/openapi.json',
      '/swagger-ui',
      '/swagger-ui/',
      '/swagger-ui/vcp-swagger-init.js',
      '/swagger-ui/swagger-ui.css',
      '/api/v1/health', // a Nest route, for comparison: the same answer
    ]) {
      expect({ path, status: (await get(path)).statusCode }).toEqual({ path, status: 200 });
      for (const credential of credentials) {
        const res = await get(`${path}?k=${encodeURIComponent(credential)}`);
        expect({ path, status: res.statusCode, body: res.json() }).toEqual({
          path,
          status: 401,
          body: {
            error: 'unauthorized',
            message: 'Credentials are accepted only in headers, never in the URL',
            request_id: res.headers['x-request-id'],
          },
        });
      }
    }
    // Any refusal before these routes run is in the API's error shape too (it was Fastify's own).
    const nul = await get('/swagger-ui?x=%00');
    expect({ status: nul.statusCode, error: nul.json().error, request_id: nul.json().request_id }).toEqual({
      status: 422,
      error: 'validation_error',
      request_id: nul.headers['x-request-id'],
    });
  });

  it('answers what it documents for a body sent where none is taken: malformed JSON 400, a form 415', async () => {
    const send = (contentType: string, payload: string) =>
      ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout-all',
        headers: { ...bearer(openapi.alice.accessToken), 'content-type': contentType },
        payload,
      });
    expect((await send('application/json', '{"a":')).statusCode).toBe(400);
    expect((await send('application/x-www-form-urlencoded', 'a=1')).statusCode).toBe(415);
  });

  it('documents the refusals routes answer after they run: a rejected node’s key (409), the stream cap (503)', async () => {
    const node = await registerNode(ctx.app, bearer(openapi.alice.accessToken));
    const call = (url: string) =>
      ctx.app.inject({
        method: 'POST',
        url: `/api/v1/nodes/${node.node_id}${url}`,
        headers: bearer(openapi.alice.accessToken),
        payload: {},
      });
    expect((await call('/reject')).statusCode).toBe(200);
    const refused = await call('/keys');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toBe('A rejected node gets no key until an admin reinstates it');
    expect(operation('/api/v1/nodes/{node_id}/keys', 'post').responses['409']).toMatchObject({
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
    });
    const full = operation('/api/v1/tasks/{task_id}/events', 'get').responses['503'];
    expect(full).toMatchObject({
      description: expect.stringContaining('TASK_EVENTS_MAX_STREAMS'),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
    });
    expect(Object.keys(full.headers ?? {})).toContain('Retry-After');
  });

  it('documents the node protocol’s refusals: no_public_key (403), and every 422 of a result', () => {
    const described = (path: string, status: string) =>
      (operation(path, 'post').responses[status] as { description?: string } | undefined)?.description ?? '';
    for (const path of ['/api/v1/nodes/{node_id}/claim', '/api/v1/runs/{run_id}/result']) {
      expect(described(path, '403')).toContain('no_public_key');
    }
    const refusals = described('/api/v1/runs/{run_id}/result', '422');
    for (const cause of [
      'validation_error',
      'output_hash',
      'signature_invalid',
      'Claim-Next',
      'Idempotency-Key',
    ])
      expect(refusals).toContain(cause);
    // A release answers 204, and refuses what a result refuses for the lease (409 lease_lost) and its body (422).
    const release = '/api/v1/runs/{run_id}/release';
    expect(Object.keys(operation(release, 'post').responses)).toEqual(
      expect.arrayContaining(['204', '409', '422']),
    );
    expect(described(release, '409')).toContain('lease_lost');
    expect(described(release, '422')).toContain('validation_error');
  });

  it('documents fields of any JSON value as such (a task result can be a string), and the key-only route as key-only (and the session-only one as session-only)', () => {
    const anyJson = (schema: string, property: string) =>
      (openapi.doc.components.schemas[schema].properties as Record<string, Json>)[property];
    for (const [schema, property] of [
      ['TaskInfoDto', 'result'],
      ['CreateTaskDto', 'inputs'],
      ['RunResultRequestDto', 'output'],
      ['RunSpecDto', 'inputs'],
    ]) {
      const field = anyJson(schema, property);
      expect({ schema, property, type: field.type }).toEqual({ schema, property, type: undefined });
      expect(field.oneOf).toEqual(expect.arrayContaining([{ type: 'string' }, { type: 'number' }]));
    }
    expect(operation('/api/v1/auth/api-key/validate', 'get').security).toEqual([{ 'api-key': [] }]);
    // A password change takes a login session only: a leaked script key must not take the account over.
    expect(operation('/api/v1/auth/password', 'post').security).toEqual([{ bearer: [] }]);
    // The node-only routes take the node's key alone: any user credential is a 403 there.
    const nodeOnly = Object.entries(openapi.doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([, op]) => (op['x-node-agent'] as { users?: boolean } | undefined)?.users === false)
        .map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, security: op.security })),
    );
    expect(nodeOnly.map(({ route }) => route).sort()).toEqual([
      'POST /api/v1/nodes/{node_id}/claim',
      'POST /api/v1/runs/{run_id}/release',
      'POST /api/v1/runs/{run_id}/result',
    ]);
    for (const { route, security } of nodeOnly)
      expect({ route, security }).toEqual({ route, security: [{ 'api-key': [] }] });
  });

  it('lists null in the enums of nullable fields (a strict 3.0.3 validator rejects a null it does not list)', () => {
    const verdict = (openapi.doc.components.schemas.TaskRunDto as { properties: Record<string, Json> })
      .properties.verdict;
    expect(verdict).toMatchObject({ nullable: true, enum: ['valid', 'invalid', null] });
  });

  it('documents circuit removal and restore: their answers, their scope, the list filters and the circuit_retired refusals', () => {
    const remove = operation('/api/v1/admin/circuits/{circuit_id}', 'delete');
    expect(remove.responses['200'].content?.['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/CircuitRemovalDto',
    });
    expect(Object.keys(remove.responses)).toEqual(expect.arrayContaining(['200', '401', '403', '404']));
    expect(remove['x-required-scopes']).toEqual(['admin:circuits']);
    expect(openapi.doc.components.schemas.CircuitRemovalDto).toMatchObject({
      properties: { outcome: { enum: ['deleted', 'retired'] } },
    });
    expect(openapi.doc.components.schemas.CircuitDto).toMatchObject({
      properties: { retired_at: { nullable: true, format: 'date-time' } },
    });
    const restore = operation('/api/v1/admin/circuits/{circuit_id}/restore', 'post');
    expect(restore.responses['200'].content?.['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/CircuitDto',
    });
    expect(Object.keys(restore.responses)).toEqual(expect.arrayContaining(['200', '401', '403', '404']));
    expect(restore.responses['201']).toBeUndefined();
    expect(restore['x-required-scopes']).toEqual(['admin:circuits']);
    expect(remove.responses['200']).toMatchObject({ description: expect.stringContaining('/restore') });
    // Where a retirement's unfinished tasks are found.
    expect(remove.responses['200']).toMatchObject({
      description: expect.stringContaining('/tasks?circuit_id='),
    });
    const taskParameters = operation('/api/v1/tasks', 'get').parameters as { name: string; schema: Json }[];
    expect(taskParameters.find((p) => p.name === 'circuit_id')).toMatchObject({
      in: 'query',
      required: false,
      schema: { pattern: '^[0-9a-f]{64}$' },
    });
    const listParameters = operation('/api/v1/circuits', 'get').parameters as { name: string }[];
    expect(listParameters.map((p) => p.name)).toEqual(expect.arrayContaining(['retired', 'limit', 'cursor']));
    for (const path of ['/api/v1/proofs/verify', '/api/v1/tasks']) {
      expect(operation(path, 'post').responses['409']).toMatchObject({
        description: expect.stringContaining('circuit_retired'),
      });
    }
  });

  it('documents the Idempotency-Key a submission takes as the server checks it (no spaces, 1–255)', async () => {
    const header = (operation('/api/v1/tasks', 'post').parameters as Json[]).find(
      (p) => p.name === 'Idempotency-Key',
    );
    const schema = header?.schema as { pattern?: string; minLength?: number; maxLength?: number } | undefined;
    const documented = (key: string) =>
      new RegExp(schema?.pattern ?? '(?!)').test(key) &&
      key.length >= (schema?.minLength ?? 0) &&
      key.length <= (schema?.maxLength ?? 0);
    const body = TASK_EXAMPLES.expression.value;
    for (const key of ['retry-1', 'a b', 'é', '~'.repeat(255), 'x'.repeat(256), '\tx']) {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: { ...bearer(openapi.alice.accessToken), 'idempotency-key': key },
        payload: body,
      });
      expect([key, res.statusCode]).toEqual([key, documented(key) ? 201 : 422]);
    }
  });

  it('offers task examples that the server accepts as they are', async () => {
    // The zk_proof one names the circuit of POST /admin/circuits' multiplier_with_prover example: registered first.
    const circuits = operation('/api/v1/admin/circuits', 'post').requestBody?.content as Record<string, Json>;
    const registration = (circuits['application/json'].examples as Record<string, { value: object }>)
      .multiplier_with_prover.value;
    const registered = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/circuits',
      headers: bearer(ctx.admin.accessToken),
      payload: registration,
    });
    expect(registered.statusCode).toBe(201);
    const examples = operation('/api/v1/tasks', 'post').requestBody?.content as Record<string, Json>;
    expect(Object.keys(examples['application/json'].examples as Json)).toEqual(Object.keys(TASK_EXAMPLES));
    for (const [name, example] of Object.entries(TASK_EXAMPLES)) {
      const res = await postTask(ctx.app, bearer(openapi.alice.accessToken), example.value);
      expect([name, res.statusCode]).toEqual([name, 201]);
    }
  });

  it('the inline module of the examples writes {"hello":"world"}', async () => {
    const upload = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: bearer(openapi.alice.accessToken),
      payload: { wasm_module: HELLO_WASM_BASE64 },
    });
    expect(upload.statusCode).toBeLessThan(300);
    const run = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/modules/${upload.json<{ module_id: string }>().module_id}/run`,
      headers: bearer(openapi.alice.accessToken),
      payload: { inputs: {} },
    });
    expect(run.json()).toMatchObject({ outcome: 'ok', stdout: { hello: 'world' } });
  });
});
