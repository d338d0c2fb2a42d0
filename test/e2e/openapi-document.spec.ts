import { getMetadataStorage } from 'class-validator';
import { HELLO_WASM_BASE64, TASK_EXAMPLES } from '../../src/tasks/dto/task-examples';
import { useTestApp } from '../support/app';
import { LeasedRun, TestAgent } from '../support/agent';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { registerNode } from '../support/nodes';
import { ORIGINAL_TASK, postTask } from '../support/tasks';

type Json = Record<string, unknown>;
interface Operation {
  requestBody?: Json;
  responses: Record<string, { content?: Record<string, { schema?: Json }>; headers?: Json }>;
  [key: string]: unknown;
}

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
  const ctx = useTestApp({ database: 'pglite' });
  let doc: {
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, Json> };
  };
  let alice: Session;
  const operation = (path: string, method: string) => doc.paths[path][method];

  beforeAll(async () => {
    doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    alice = await newSession(ctx.app, 'alice');
  });

  it('has no dangling reference (Swagger UI shows a resolver error for one)', () => {
    const resolves = (ref: string) =>
      ref
        .replace(/^#\//, '')
        .split('/')
        .reduce<unknown>((at, name) => (at as Json | undefined)?.[name], doc) !== undefined;
    const missing = refsIn(doc).filter((ref) => !resolves(ref));
    expect(missing).toEqual([]);
    expect(resolves('#/components/schemas/NoSuchSchema')).toBe(false);
    expect(refsIn(doc.components.schemas.ReadinessResponseDto)).toEqual([
      '#/components/schemas/CheckResultDto',
    ]);
  });

  it('describes the error body of every error response', () => {
    const bare: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          const schema = response.content?.['application/json']?.schema;
          if (Number(status) >= 400 && schema?.$ref !== '#/components/schemas/ErrorResponse')
            bare.push(`${method} ${path} ${status}`);
        }
      }
    }
    expect(bare).toEqual([]);
    expect(doc.components.schemas.ErrorResponse).toMatchObject({
      required: ['error', 'message', 'request_id'],
    });
  });

  it('names each route’s rate-limit tier and documents its 429; 422 where a body or query is validated', () => {
    const tiers = (path: string, method: string) => {
      const op = operation(path, method);
      return [op['x-rate-limit-tier'], '429' in op.responses, '422' in op.responses];
    };
    expect(tiers('/api/v1/health', 'get')).toEqual(['none', false, false]);
    expect(tiers('/api/v1/tasks', 'post')).toEqual(['task', true, true]);
    expect(tiers('/api/v1/tasks', 'get')).toEqual(['task', true, true]);
    expect(tiers('/api/v1/auth/me', 'get')).toEqual(['general', true, false]);
    expect(tiers('/api/v1/nodes/{node_id}/claim', 'post')).toEqual(['agent', true, true]);
    expect(tiers('/api/v1/auth/login', 'post')).toEqual(['auth', true, true]);
  });

  it('documents the statuses the pipeline answers before a route runs, and the headers of every response', () => {
    const statuses = (path: string, method: string) =>
      ['400', '401', '413', '415'].filter((status) => status in operation(path, method).responses);
    expect(statuses('/api/v1/health', 'get')).toEqual([]);
    expect(statuses('/api/v1/auth/register', 'post')).toEqual(['400', '413', '415']);
    expect(statuses('/api/v1/auth/me', 'get')).toEqual(['401']);
    expect(statuses('/api/v1/tasks', 'post')).toEqual(['400', '401', '413', '415']);
    expect(operation('/api/v1/modules', 'post').responses['415']).toMatchObject({
      description: expect.stringContaining('application/wasm'),
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
    // An ending key's Sunset: on what answers after authentication, never on a refusal of the credentials or
    // on a route no key authenticates.
    expect(headers('/api/v1/auth/me', 'get', '403')).toContain('Sunset');
    expect(headers('/api/v1/auth/me', 'get', '401')).toEqual(['X-Request-Id']);
    expect(headers('/api/v1/auth/login', 'post', '200')).not.toContain('Sunset');
    expect(headers('/api/v1/tasks', 'post', '415')).not.toContain('Sunset');
  });

  it('documents the refusals routes answer after they run: a rejected node’s key (409), the stream cap (503)', async () => {
    const node = await registerNode(ctx.app, bearer(alice.accessToken));
    const call = (url: string) =>
      ctx.app.inject({
        method: 'POST',
        url: `/api/v1/nodes/${node.node_id}${url}`,
        headers: bearer(alice.accessToken),
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

  it('types every @IsInt field of a body or query DTO as integer (a client must not offer 1.5)', () => {
    const storage = getMetadataStorage() as unknown as {
      validationMetadatas: Map<new () => object, { name?: string; propertyName: string }[]>;
    };
    const wrong: string[] = [];
    const queryInts = new Set<string>();
    let checked = 0;
    for (const [target, metas] of storage.validationMetadatas) {
      // Only API DTOs (the environment's *Variables classes use class-validator too, with no Swagger metadata).
      if (!Reflect.hasMetadata('swagger/apiModelPropertiesArray', target.prototype)) continue;
      for (const { propertyName } of metas.filter((meta) => meta.name === 'isInt')) {
        checked++;
        const declared = (
          Reflect.getMetadata('swagger/apiModelProperties', target.prototype, propertyName) as
            { type?: unknown } | undefined
        )?.type;
        const schema = doc.components.schemas[target.name] as
          { properties?: Record<string, { type?: string }> } | undefined;
        if (schema === undefined) queryInts.add(propertyName);
        const documented = schema === undefined ? declared : schema.properties?.[propertyName]?.type;
        if (documented !== 'integer') wrong.push(`${target.name}.${propertyName}`);
      }
    }
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const params = (op.parameters ?? []) as { in: string; name: string; schema?: { type?: string } }[];
        for (const param of params.filter((p) => p.in === 'query' && queryInts.has(p.name))) {
          if (param.schema?.type !== 'integer') wrong.push(`${method.toUpperCase()} ${path} ?${param.name}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(15);
    expect(queryInts.has('limit')).toBe(true);
    expect(wrong).toEqual([]);
  });

  it('types as integer every number a response always carries whole (a generated client gets an int, not a float)', () => {
    // The number properties that can carry a fraction, and why; every other one of any schema must be integer.
    const FRACTIONAL: Record<string, string> = {
      'NodeCapabilitiesDto.bandwidth_mbps': 'double precision, sent by the node',
      'NodeCapabilitiesDto.memory_gb': 'double precision, sent by the node (0.5 GB)',
      'TaskRequirementsDto.min_memory_gb': 'double precision, compared with memory_gb',
      'NodeReputationDto.score': 'a Wilson lower bound',
      'NodeInfoDto.health_score': 'double precision (see health-score.ts)',
      'RegisteredNodeDto.health_score': 'as NodeInfoDto',
      'HeartbeatResponseDto.health_score': 'as NodeInfoDto',
      'HeartbeatRecordDto.health_score': 'numeric(5, 2)',
      'ClusterStatsDto.avg_health_score': 'a mean, rounded to two decimals',
      'HeartbeatDto.cpu_usage': 'a percentage the node sends',
      'HeartbeatDto.memory_usage': 'a percentage the node sends',
      'HeartbeatDto.disk_usage': 'a percentage the node sends',
      'HeartbeatDto.network_latency_ms': 'the node may send 12.5 (the history stores it rounded)',
      'HeartbeatRecordDto.cpu_usage': 'numeric(5, 2)',
      'HeartbeatRecordDto.memory_usage': 'numeric(5, 2)',
      'HeartbeatRecordDto.disk_usage': 'numeric(5, 2)',
    };
    const numbers: string[] = [];
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      const properties = (schema.properties ?? {}) as Record<string, { type?: string; items?: Json }>;
      for (const [property, field] of Object.entries(properties))
        if (field.type === 'number' || field.items?.type === 'number') numbers.push(`${name}.${property}`);
    }
    expect(numbers.sort()).toEqual(Object.keys(FRACTIONAL).sort());
    const type = (schema: string, property: string) =>
      (doc.components.schemas[schema].properties as Record<string, Json>)[property].type;
    for (const [schema, property] of [
      ['TaskInfoDto', 'attempts'],
      ['TaskInfoDto', 'max_attempts'],
      ['TaskInfoDto', 'priority'],
      ['TaskRunDto', 'attempt'],
      ['TaskRunDto', 'exit_code'],
      ['TaskRunDto', 'execution_time_ms'],
      ['TaskVerificationDto', 'quorum'],
      ['RunResultDto', 'exit_code'],
      ['RunResultDto', 'execution_time_ms'],
      ['ModuleDto', 'size_bytes'],
      ['TaskReceiptDto', 'version'],
      ['TaskReceiptDto', 'min_nodes'],
      ['TaskReceiptDto', 'quorum'],
      ['RunReceiptDto', 'execution_time_ms'],
      ['CircuitDto', 'wasm_size'],
      ['NodeReputationDto', 'valid_streak'],
      ['ClusterStatsDto', 'total_nodes'],
      ['RunLimitsDto', 'timeout_ms'],
    ])
      expect({ schema, property, type: type(schema, property) }).toEqual({
        schema,
        property,
        type: 'integer',
      });
  });

  it('answers whole numbers wherever a response schema says integer (observed on real responses)', async () => {
    const integers = new Set<string>();
    const fractions = new Set<string>();
    const wrong: string[] = [];
    /** Walks `value` along `schema` ($ref, allOf, items, properties, additionalProperties). */
    const walk = (schema: Json | undefined, value: unknown, at: string): void => {
      if (schema === undefined || value === null || value === undefined) return;
      if (typeof schema.$ref === 'string') {
        const name = schema.$ref.split('/').pop() as string;
        return walk(doc.components.schemas[name], value, name);
      }
      for (const part of (schema.allOf ?? []) as Json[]) walk(part, value, at);
      if (schema.type === 'integer') {
        integers.add(at);
        if (!Number.isInteger(value)) wrong.push(`${at} = ${JSON.stringify(value)}`);
      }
      if (schema.type === 'number' && !Number.isInteger(value)) fractions.add(at);
      if (Array.isArray(value)) value.forEach((item) => walk(schema.items as Json | undefined, item, at));
      else if (typeof value === 'object') {
        const properties = (schema.properties ?? {}) as Record<string, Json>;
        const extra =
          typeof schema.additionalProperties === 'object' ? (schema.additionalProperties as Json) : undefined;
        for (const [key, inner] of Object.entries(value as Json))
          walk(properties[key] ?? extra, inner, `${at}.${key}`);
      }
    };
    const call = async (
      method: 'GET' | 'POST' | 'PUT',
      path: string,
      url: string,
      headers: Record<string, string>,
      payload?: object,
    ) => {
      const res = await ctx.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
      expect([method, url, res.statusCode]).toEqual([
        method,
        url,
        method === 'POST' && res.statusCode === 201 ? 201 : 200,
      ]);
      walk(
        operation(path, method.toLowerCase()).responses[String(res.statusCode)].content?.['application/json']
          ?.schema,
        res.json(),
        path,
      );
      return res.json<Record<string, any>>();
    };
    const owner = bearer(alice.accessToken);
    const bob = await newSession(ctx.app, 'bob');
    await call('GET', '/api/v1/health/ready', '/api/v1/health/ready', {});
    await call(
      'POST',
      '/api/v1/auth/login',
      '/api/v1/auth/login',
      {},
      { username: bob.username, password: bob.password },
    );
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    walk({ $ref: '#/components/schemas/RegisteredNodeDto' }, agent.node, '');
    const node = `/api/v1/nodes/${agent.nodeId}`;
    const nodeKey = apiKeyHeader(agent.node.node_api_key);
    const telemetry = { cpu_usage: 12.5, memory_usage: 40.25, network_latency_ms: 20.4, active_tasks: 0 };
    await call('PUT', '/api/v1/nodes/{node_id}/heartbeat', `${node}/heartbeat`, nodeKey, telemetry);
    await call('GET', '/api/v1/nodes/{node_id}/heartbeats', `${node}/heartbeats`, bearer(bob.accessToken));
    await call('GET', '/api/v1/nodes/{node_id}', node, bearer(bob.accessToken));
    await call('GET', '/api/v1/cluster/stats', '/api/v1/cluster/stats', owner);
    const task = await call('POST', '/api/v1/tasks', '/api/v1/tasks', owner, ORIGINAL_TASK);
    const claimed = await call('POST', '/api/v1/nodes/{node_id}/claim', `${node}/claim`, nodeKey, {
      max: 1,
      wait_ms: 0,
    });
    const run = (claimed.runs as LeasedRun[])[0];
    expect(run.task_id).toBe(task.task_id);
    expect((await agent.report(run, 'ok', { sum: 6 })).statusCode).toBe(200);
    const taskUrl = `/api/v1/tasks/${String(task.task_id)}`;
    expect((await call('GET', '/api/v1/tasks/{task_id}', taskUrl, owner)).status).toBe('completed');
    await call('GET', '/api/v1/tasks/{task_id}/receipt', `${taskUrl}/receipt`, owner);
    const module = await call('POST', '/api/v1/modules', '/api/v1/modules', owner, {
      wasm_module: HELLO_WASM_BASE64,
    });
    await call('GET', '/api/v1/modules/usage', '/api/v1/modules/usage', owner);
    const moduleUrl = `/api/v1/modules/${String(module.module_id)}/run`;
    await call('POST', '/api/v1/modules/{module_id}/run', moduleUrl, owner, { inputs: {} });

    expect(wrong).toEqual([]);
    expect([...integers]).toEqual(
      expect.arrayContaining([
        'TokenPairDto.expires_in',
        'CheckResultDto.latency_ms',
        'NodeReputationDto.valid_streak',
        'HeartbeatResponseDto.heartbeat_interval_secs',
        'HeartbeatRecordDto.network_latency_ms',
        'ClusterStatsDto.total_compute_capacity',
        'RunLimitsDto.memory_mb',
        'TaskInfoDto.attempts',
        'TaskRunDto.execution_time_ms',
        'TaskReceiptDto.quorum',
        'RunReceiptDto.execution_time_ms',
        'ModuleDto.size_bytes',
        'ModuleUsageDto.used_bytes',
        'RunResultDto.execution_time_ms',
      ]),
    );
    // The fractions the heartbeat sent come back where the document keeps number.
    expect([...fractions]).toEqual(
      expect.arrayContaining(['HeartbeatRecordDto.cpu_usage', 'HeartbeatRecordDto.memory_usage']),
    );
  });

  it('documents fields of any JSON value as such (a task result can be a string), and the key-only route as key-only', () => {
    const anyJson = (schema: string, property: string) =>
      (doc.components.schemas[schema].properties as Record<string, Json>)[property];
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
  });

  it('lists null in the enums of nullable fields (a strict 3.0.3 validator rejects a null it does not list)', () => {
    const verdict = (doc.components.schemas.TaskRunDto as { properties: Record<string, Json> }).properties
      .verdict;
    expect(verdict).toMatchObject({ nullable: true, enum: ['valid', 'invalid', null] });
  });

  it('documents circuit removal and restore: their answers, their scope, the list filters and the circuit_retired refusals', () => {
    const remove = operation('/api/v1/admin/circuits/{circuit_id}', 'delete');
    expect(remove.responses['200'].content?.['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/CircuitRemovalDto',
    });
    expect(Object.keys(remove.responses)).toEqual(expect.arrayContaining(['200', '401', '403', '404']));
    expect(remove['x-required-scopes']).toEqual(['admin:circuits']);
    expect(doc.components.schemas.CircuitRemovalDto).toMatchObject({
      properties: { outcome: { enum: ['deleted', 'retired'] } },
    });
    expect(doc.components.schemas.CircuitDto).toMatchObject({
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

  it('offers task examples that the server accepts as they are', async () => {
    const examples = operation('/api/v1/tasks', 'post').requestBody?.content as Record<string, Json>;
    expect(Object.keys(examples['application/json'].examples as Json)).toEqual(Object.keys(TASK_EXAMPLES));
    for (const [name, example] of Object.entries(TASK_EXAMPLES)) {
      const res = await postTask(ctx.app, bearer(alice.accessToken), example.value);
      expect([name, res.statusCode]).toEqual([name, 201]);
    }
  });

  it('the inline module of the examples writes {"hello":"world"}', async () => {
    const upload = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: bearer(alice.accessToken),
      payload: { wasm_module: HELLO_WASM_BASE64 },
    });
    expect(upload.statusCode).toBeLessThan(300);
    const run = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/modules/${upload.json<{ module_id: string }>().module_id}/run`,
      headers: bearer(alice.accessToken),
      payload: { inputs: {} },
    });
    expect(run.json()).toMatchObject({ outcome: 'ok', stdout: { hello: 'world' } });
  });
});
