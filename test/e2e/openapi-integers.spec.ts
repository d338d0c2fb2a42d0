import { getMetadataStorage } from 'class-validator';
import { HELLO_WASM_BASE64 } from '../../src/tasks/dto/task-examples';
import { LeasedRun, TestAgent } from '../support/agent';
import { apiKeyHeader, bearer, newSession } from '../support/auth';
import { Json, useOpenApiDocument } from '../support/openapi';
import { ORIGINAL_TASK } from '../support/tasks';

/**
 * Integers in the OpenAPI document: a code generator turns `integer` into an int and `number` into a float, so
 * a field that is always whole must say integer (requests and responses), and one that can carry a fraction
 * must not.
 */
describe('the OpenAPI document’s integers', () => {
  const openapi = useOpenApiDocument();
  const { ctx, operation } = openapi;

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
        const schema = openapi.doc.components.schemas[target.name] as
          { properties?: Record<string, { type?: string }> } | undefined;
        if (schema === undefined) queryInts.add(propertyName);
        const documented = schema === undefined ? declared : schema.properties?.[propertyName]?.type;
        if (documented !== 'integer') wrong.push(`${target.name}.${propertyName}`);
      }
    }
    for (const [path, item] of Object.entries(openapi.doc.paths)) {
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
    for (const [name, schema] of Object.entries(openapi.doc.components.schemas)) {
      const properties = (schema.properties ?? {}) as Record<string, { type?: string; items?: Json }>;
      for (const [property, field] of Object.entries(properties))
        if (field.type === 'number' || field.items?.type === 'number') numbers.push(`${name}.${property}`);
    }
    expect(numbers.sort()).toEqual(Object.keys(FRACTIONAL).sort());
    const type = (schema: string, property: string) =>
      (openapi.doc.components.schemas[schema].properties as Record<string, Json>)[property].type;
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
        return walk(openapi.doc.components.schemas[name], value, name);
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
    const owner = bearer(openapi.alice.accessToken);
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
});
