import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConnectionDraining } from '../../src/common/http/connection-draining';
import { HELLO_WASM_BASE64 } from '../../src/tasks/dto/task-examples';
import { AdminAppContext, useAdminApp } from '../support/admin';
import { LeasedRun, TestAgent } from '../support/agent';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { Headers, ORIGINAL_NODE, registerNode } from '../support/nodes';
import type { OpenApiDocument } from '../support/openapi';
import {
  conformanceChecker,
  operationsOf,
  recordResponses,
  RecordedResponse,
} from '../support/openapi-conformance';
import { eventually } from '../support/eventually';
import { finalTask } from '../support/task-waits';
import { ORIGINAL_TASK, submitTask } from '../support/tasks';
import { fixture } from '../support/wasm';
import { postFixtureProof, postZkTask, registerCircuit } from '../support/zk';

const REQUIREMENTS = { min_nodes: 1, max_execution_time_sec: 30, require_gpu: false, require_proof: false };
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

type Reply = Awaited<ReturnType<NestFastifyApplication['inject']>>;
/** The app, and one request to it whatever the answer (every answer is recorded). */
interface Tour {
  app: NestFastifyApplication;
  call: (method: string, url: string, headers?: Headers, payload?: unknown) => Promise<Reply>;
}

/** Accounts: register, login, refresh, me, logout, and their refusals. */
async function tourAuth({ app, call }: Tour, alice: Session) {
  await call(
    'POST',
    '/api/v1/auth/register',
    {},
    { username: alice.username, password: 'another password 1' },
  );
  await call('POST', '/api/v1/auth/register', {}, { username: 'x', password: 'short' });
  await call('POST', '/api/v1/auth/login', {}, { username: alice.username, password: 'wrong password here' });
  const refreshed = await call('POST', '/api/v1/auth/refresh', {}, { refresh_token: alice.refreshToken });
  await call('POST', '/api/v1/auth/refresh', {}, { refresh_token: alice.refreshToken }); // reused: 401
  const tokens = refreshed.json<{ access_token: string; refresh_token: string }>();
  await call('GET', '/api/v1/auth/me', bearer(tokens.access_token));
  await call('GET', '/api/v1/auth/me', apiKeyHeader(alice.apiKey));
  await call('GET', '/api/v1/auth/me');
  await call('GET', '/api/v1/auth/api-key/validate', apiKeyHeader(alice.apiKey));
  await call('GET', '/api/v1/auth/api-key/validate', bearer(tokens.access_token));
  await call('POST', '/api/v1/auth/logout', {}, { refresh_token: tokens.refresh_token });
  const bob = await newSession(app, 'bob');
  await call('POST', '/api/v1/auth/logout-all', bearer(bob.accessToken));
  await call('GET', '/api/v1/auth/me', bearer(bob.accessToken)); // cut: 401
  const dana = await newSession(app, 'dana');
  const change = (headers: Headers, current: string, next: string) =>
    call('POST', '/api/v1/auth/password', headers, { current_password: current, new_password: next });
  await change(bearer(dana.accessToken), 'not the password', 'a longer passphrase'); // 403 wrong_password
  await change(apiKeyHeader(dana.apiKey), dana.password, 'a longer passphrase'); // an API key: 403
  await change(bearer(dana.accessToken), dana.password, 'a longer passphrase'); // a new token pair
}

/** API keys: create, list, get, rotate, revoke, and a key too narrow for a route (403). */
async function tourApiKeys({ call }: Tour, alice: Session) {
  const h = bearer(alice.accessToken);
  const created = await call('POST', '/api/v1/api-keys', h, { name: 'reader', scopes: ['tasks:read'] });
  const key = created.json<{ key_id: string; api_key: string }>();
  await call('POST', '/api/v1/api-keys', h, { name: 'bad', scopes: ['no:such'] });
  await call('GET', '/api/v1/api-keys', h);
  await call('GET', `/api/v1/api-keys/${key.key_id}`, h);
  await call('GET', `/api/v1/api-keys/${UNKNOWN_ID}`, h);
  await call('POST', '/api/v1/tasks', apiKeyHeader(key.api_key), ORIGINAL_TASK); // scope: 403
  const rotated = await call('POST', `/api/v1/api-keys/${key.key_id}/rotate`, h, { grace_seconds: 60 });
  await call('POST', `/api/v1/api-keys/${key.key_id}/rotate`, h, {}); // replaced already
  await call('GET', '/api/v1/auth/me', apiKeyHeader(key.api_key)); // in its grace period: Sunset
  await call('DELETE', `/api/v1/api-keys/${rotated.json<{ key_id: string }>().key_id}`, h);
  await call('DELETE', `/api/v1/api-keys/${UNKNOWN_ID}`, h);
}

/** Modules: upload (bytes and JSON), list, usage, get, download, run, delete. */
async function tourModules({ call }: Tour, alice: Session) {
  const h = bearer(alice.accessToken);
  const echo = fixture('echo');
  const stored = await call('POST', '/api/v1/modules', { ...h, 'content-type': 'application/wasm' }, echo);
  await call('POST', '/api/v1/modules', { ...h, 'content-type': 'application/wasm' }, echo); // again: 200
  const hello = await call('POST', '/api/v1/modules', h, { wasm_module: HELLO_WASM_BASE64 });
  await call('POST', '/api/v1/modules', { ...h, 'content-type': 'application/wasm' }, Buffer.from('nope'));
  await call('POST', '/api/v1/modules', { ...h, 'content-type': 'text/plain' }, 'hello');
  const moduleId = stored.json<{ module_id: string }>().module_id;
  await call('GET', '/api/v1/modules', h);
  await call('GET', '/api/v1/modules?limit=0', h);
  await call('GET', '/api/v1/modules/usage', h);
  await call('GET', `/api/v1/modules/${moduleId}`, h);
  await call('GET', `/api/v1/modules/${'0'.repeat(64)}`, h);
  await call('GET', `/api/v1/modules/${moduleId}/download`, h);
  await call('POST', `/api/v1/modules/${moduleId}/run`, h, { inputs: { numbers: [1, 2] } });
  await call('POST', `/api/v1/modules/${moduleId}/run`, h, { inputs: 1, args: 'not a list' });
  const trap = await call(
    'POST',
    '/api/v1/modules',
    { ...h, 'content-type': 'application/wasm' },
    fixture('trap'),
  );
  const trapId = trap.json<{ module_id: string }>().module_id;
  await call('POST', `/api/v1/modules/${trapId}/run`, h, { inputs: {}, deterministic: true });
  await call('DELETE', `/api/v1/modules/${hello.json<{ module_id: string }>().module_id}`, h);
  return moduleId;
}

/** Tasks of every kind, run to completion by the embedded node, and what is read about them. */
async function tourTasks({ app, call }: Tour, alice: Session, circuitId: string, moduleId: string) {
  const h = bearer(alice.accessToken);
  const tasks = [
    await submitTask(app, h, {
      task_type: 'wasm_execution',
      wasm_module: fixture('echo').toString('base64'),
      inputs: { text: 'héllo' },
      requirements: REQUIREMENTS,
    }),
    await submitTask(app, h, { task_type: 'wasm_execution', module_id: moduleId, inputs: { a: 1 } }),
    await submitTask(app, h, { ...ORIGINAL_TASK, requirements: REQUIREMENTS }),
    await submitTask(app, h, {
      task_type: 'computation',
      inputs: { program: 'expression', expression: '2+3*4' },
      requirements: REQUIREMENTS,
    }),
    await submitTask(app, h, {
      task_type: 'zk_proof',
      circuit_id: circuitId,
      inputs: { a: '3', b: '11', public_signals: ['33', '11'] },
      requirements: REQUIREMENTS,
    }),
  ];
  for (const task of tasks) await finalTask(app, task.task_id, h, 30_000);
  const [first] = tasks;
  await call('GET', '/api/v1/tasks', h);
  await call('GET', '/api/v1/tasks?status=completed&limit=2', h);
  await call('GET', '/api/v1/tasks?status=nonsense', h);
  for (const task of tasks) await call('GET', `/api/v1/tasks/${task.task_id}`, h);
  await call('GET', `/api/v1/tasks/${UNKNOWN_ID}`, h);
  const events = await call('GET', `/api/v1/tasks/${first.task_id}/events`, h);
  const lastId = [...events.body.matchAll(/^id: (\S+)$/gm)].at(-1)?.[1] ?? '';
  await call('GET', `/api/v1/tasks/${first.task_id}/events`, { ...h, 'last-event-id': lastId }); // 204
  await call('GET', `/api/v1/tasks/${first.task_id}/events`, { ...h, 'last-event-id': 'x' });
  await call('GET', `/api/v1/tasks/${UNKNOWN_ID}/events`, h);
  await call('POST', '/api/v1/tasks', h, { ...ORIGINAL_TASK, inputs: { text: 'x'.repeat(2 ** 21) } }); // 413
  for (const task of tasks) await call('GET', `/api/v1/tasks/${task.task_id}/receipt`, h);
  await call('POST', '/api/v1/tasks', h, { ...ORIGINAL_TASK, task_type: 'nonsense' });
  await postZkTask(app, h, UNKNOWN_ID);
  // One no node here can take (a GPU): cancelled while pending, then its receipt is refused.
  const waiting = await submitTask(app, h, { requirements: { ...REQUIREMENTS, require_gpu: true } });
  await call('GET', `/api/v1/tasks/${waiting.task_id}/receipt`, h);
  await call('POST', `/api/v1/tasks/${waiting.task_id}/cancel`, h);
  await call('POST', `/api/v1/tasks/${waiting.task_id}/cancel`, h);
  await call('GET', `/api/v1/tasks/${waiting.task_id}`, h);
  await call('DELETE', `/api/v1/tasks/${waiting.task_id}`, h);
  await call('DELETE', `/api/v1/tasks/${UNKNOWN_ID}`, h);
}

/** Nodes as their owner and as their agent (its own key): register, heartbeat, claim, result, keys. */
async function tourNodes({ app, call }: Tour, alice: Session, admin: Headers) {
  const h = bearer(alice.accessToken);
  // The only node with a GPU, so the embedded node leaves these tasks to it.
  const agent = await TestAgent.register(app, h);
  const gpu = { requirements: { ...REQUIREMENTS, require_gpu: true } };
  const tasks = [await submitTask(app, h, gpu), await submitTask(app, h, gpu)];
  await call('POST', '/api/v1/nodes', h, { node_id: agent.nodeId, region: 'r' }); // invalid
  await call('POST', '/api/v1/nodes', h, { ...ORIGINAL_NODE, node_id: agent.nodeId }); // taken: 409
  await call('GET', '/api/v1/nodes', h);
  await call('GET', '/api/v1/nodes?all=true', admin);
  await call('GET', `/api/v1/nodes/${agent.nodeId}`, h);
  await call('GET', '/api/v1/nodes/no-such-node', h);
  const agentKey = apiKeyHeader(agent.node.node_api_key);
  await call('GET', `/api/v1/nodes/${agent.nodeId}`, agentKey); // a node key may not read it: 403
  await call('PUT', `/api/v1/nodes/${agent.nodeId}/heartbeat`, agentKey, { cpu_usage: 0.5 });
  await call('PUT', `/api/v1/nodes/${agent.nodeId}/heartbeat`, agentKey, { cpu_usage: 'high' });
  await call('POST', `/api/v1/nodes/${agent.nodeId}/claim`, agentKey, { max: 'one' });
  const [run] = await agent.claim({ max: 1, wait_ms: 0 });
  const held = { runs: [{ run_id: run.run_id, fence: run.fence }] };
  await call('PUT', `/api/v1/nodes/${agent.nodeId}/heartbeat`, agentKey, held);
  await call('GET', `/api/v1/nodes/${agent.nodeId}/heartbeats`, h);
  // Its result also leases the next run (Claim-Next), whose result then ends the queue.
  const reported = await agent.report(run, 'ok', run.spec.inputs, {}, { 'claim-next': '1' });
  const [next] = reported.json<{ next_runs: LeasedRun[] }>().next_runs;
  await call('POST', `/api/v1/nodes/${agent.nodeId}/claim`, agentKey, { max: 1, wait_ms: 0 }); // none: 204
  await agent.report(next, 'ok', next.spec.inputs);
  await agent.report(run, 'ok', run.spec.inputs); // reported already
  await agent.report(run, 'ok', run.spec.inputs, { signature: Buffer.alloc(64).toString('base64') });
  await call('POST', `/api/v1/runs/${UNKNOWN_ID}/result`, agentKey, { fence: '1', outcome: 'ok' });
  for (const task of tasks) {
    await finalTask(app, task.task_id, h, 30_000);
    await call('GET', `/api/v1/tasks/${task.task_id}/receipt`, h);
  }
  // A quorum of two: the embedded node and this one agree, so the task carries its verification.
  const quorum = await submitTask(app, h, {
    task_type: 'wasm_execution',
    wasm_module: fixture('echo').toString('base64'),
    inputs: { quorum: true },
    requirements: { ...REQUIREMENTS, min_nodes: 2 },
  });
  const [voter] = await eventually(async () => {
    const runs = await agent.claim({ max: 1, wait_ms: 0 });
    if (runs.length === 0) throw new Error('no run leased yet');
    return runs;
  });
  await agent.report(voter, 'ok', voter.spec.inputs);
  const agreed = await finalTask(app, quorum.task_id, h, 30_000);
  if (agreed.verification?.method !== 'quorum') throw new Error(`no quorum: ${JSON.stringify(agreed)}`);
  await call('GET', `/api/v1/tasks/${quorum.task_id}`, h);
  await call('GET', `/api/v1/tasks/${quorum.task_id}/receipt`, h);
  await call('POST', `/api/v1/nodes/${agent.nodeId}/keys`, h, {});
  await call('GET', `/api/v1/nodes/${agent.nodeId}/keys`, h);
  await call('GET', '/api/v1/cluster/stats', h);
  const other = await registerNode(app, h);
  await call('POST', `/api/v1/nodes/${other.node_id}/reject`, h);
  await call('POST', `/api/v1/nodes/${other.node_id}/reinstate`, admin);
  await call('POST', `/api/v1/nodes/${other.node_id}/reinstate`, h); // not an admin: 403
  await call('DELETE', `/api/v1/nodes/${other.node_id}`, h);
  await call('DELETE', `/api/v1/nodes/${other.node_id}`, h);
}

/** Circuits and proofs, programs, receipts' key, health. */
async function tourCatalogs({ app, call }: Tour, alice: Session, admin: Headers, circuitId: string) {
  const h = bearer(alice.accessToken);
  await call('GET', '/api/v1/circuits', h);
  await call('GET', `/api/v1/circuits/${circuitId}`, h);
  await call('GET', `/api/v1/circuits/${UNKNOWN_ID}`, h);
  await call('GET', `/api/v1/circuits/${circuitId}/wasm`, h);
  await call('GET', `/api/v1/circuits/${circuitId}/zkey`, h);
  await postFixtureProof(app, h, circuitId, 'multiplier', 'groth16');
  await postFixtureProof(app, h, circuitId, 'multiplier', 'groth16', { public_signals: ['34', '11'] });
  await postFixtureProof(app, h, circuitId, 'multiplier', 'groth16', { public_signals: 'x' });
  const retired = await registerCircuit(app, admin, 'multiplier', 'plonk');
  await call('POST', '/api/v1/admin/circuits', admin, {
    name: 'x',
    protocol: 'groth16',
    verification_key: {},
  });
  await call('POST', '/api/v1/admin/circuits', h, { name: 'x' }); // not an admin: 403
  await call('DELETE', `/api/v1/admin/circuits/${retired}`, admin);
  await call('DELETE', `/api/v1/admin/circuits/${retired}`, admin);
  await postFixtureProof(app, h, retired, 'multiplier', 'plonk'); // retired: 409
  await call('POST', `/api/v1/admin/circuits/${retired}/restore`, admin);
  await call('POST', `/api/v1/admin/circuits/${UNKNOWN_ID}/restore`, admin);
  // Retired, as a circuit tasks have used is, then restored.
  await call('DELETE', `/api/v1/admin/circuits/${circuitId}`, admin);
  await call('POST', `/api/v1/admin/circuits/${circuitId}/restore`, admin);
  await call('GET', '/api/v1/programs', h);
  await call('GET', '/api/v1/receipts/public-key');
  await call('GET', '/api/v1/health');
  await call('GET', `/api/v1/health?key=${alice.apiKey}`); // a key in a URL: 401 on every route
  await call('GET', `/api/v1/receipts/public-key?key=${alice.apiKey}`);
  await call('GET', '/api/v1/health/ready');
  await call('GET', '/api/v1/no-such-route', h);
}

/** Admin routes: users, audit log, throttle overrides, and a 429 from an override of one request a minute. */
async function tourAdmin({ app, call }: Tour, admin: Headers, adminId: string, alice: Session) {
  const users = await call('GET', '/api/v1/admin/users?limit=2', admin);
  await call('GET', '/api/v1/admin/users', bearer(alice.accessToken)); // 403
  await call('PATCH', `/api/v1/admin/users/${alice.userId}`, admin, { role: 'user' });
  await call('PATCH', `/api/v1/admin/users/${UNKNOWN_ID}`, admin, { disabled: true });
  await call('PATCH', `/api/v1/admin/users/${adminId}`, admin, { role: 'user' }); // the last admin: 409
  await call('PATCH', `/api/v1/admin/users/${alice.userId}`, admin, { role: 'root' });
  await call(
    'GET',
    `/api/v1/admin/audit-log?limit=5&cursor=${users.json<{ next_cursor: string }>().next_cursor}`,
    admin,
  );
  await call('GET', '/api/v1/admin/audit-log?limit=5', admin);
  const carol = await newSession(app, 'carol');
  const expires = new Date(Date.now() + 3_600_000).toISOString();
  const override = await call('POST', '/api/v1/admin/throttle-overrides', admin, {
    subject_type: 'user',
    subject_id: carol.userId,
    rpm: 1,
    burst: 1,
    expires_at: expires,
  });
  await call('POST', '/api/v1/admin/throttle-overrides', admin, { subject_type: 'planet', subject_id: 'x' });
  await call('GET', '/api/v1/admin/throttle-overrides', admin);
  await call('GET', '/api/v1/auth/me', bearer(carol.accessToken));
  await call('GET', '/api/v1/auth/me', bearer(carol.accessToken)); // over one a minute: 429
  const id = override.json<{ override_id: string }>().override_id;
  await call('DELETE', `/api/v1/admin/throttle-overrides/${id}`, admin);
  await call('DELETE', `/api/v1/admin/throttle-overrides/${id}`, admin);
}

/**
 * Every operation once as `headers` (unknown ids in the path, an empty body), and each that reads a body once
 * with malformed JSON and once with a form: the refusals a client meets first must be documented too.
 */
async function sweep({ call }: Tour, doc: OpenApiDocument, headers: Headers, bodies = false) {
  for (const operation of operationsOf(doc)) {
    const [method, path] = operation.split(' ');
    // Would end the sweeping session's tokens; toured on its own account above.
    if (path === '/api/v1/auth/logout-all') continue;
    const url = path.replace(/\{[^}]+\}/g, UNKNOWN_ID);
    if (method === 'GET') {
      await call(method, url, headers);
      continue;
    }
    await call(method, url, headers, {});
    if (!bodies) continue;
    await call(method, url, { ...headers, 'content-type': 'application/json' }, '{"a":');
    await call(method, url, { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, 'a=1');
  }
}

/**
 * Every operation once with each URL the router or the pipeline refuses before the route runs: a `%00` (text
 * PostgreSQL cannot store), a bad percent-encoding, and a path parameter over 100 characters.
 */
async function sweepUrls({ call }: Tour, doc: OpenApiDocument, headers: Headers) {
  for (const operation of operationsOf(doc)) {
    const [method, path] = operation.split(' ');
    if (path === '/api/v1/auth/logout-all') continue;
    const body = method === 'GET' ? undefined : {};
    const known = path.replace(/\{[^}]+\}/g, UNKNOWN_ID);
    await call(method, `${known}?q=%00`, headers, body);
    await call(method, `${known}?q=%zz`, headers, body);
    if (!path.includes('{')) continue;
    await call(method, path.replace(/\{[^}]+\}/g, 'a'.repeat(101)), headers, body);
    await call(method, path.replace(/\{[^}]+\}/g, '%zz'), headers, body);
  }
}

describe('the OpenAPI document against what the server answers', () => {
  const ctx: AdminAppContext = useAdminApp({
    database: 'pglite',
    env: { EMBEDDED_NODE: 'auto', EMBEDDED_NODE_CONCURRENCY: '2' },
  });
  let doc: OpenApiDocument;
  let recorded: RecordedResponse[];

  beforeAll(async () => {
    doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    recorded = recordResponses(ctx.app, doc);
    const tour: Tour = {
      app: ctx.app,
      call: (method, url, headers = {}, payload) =>
        ctx.app.inject({
          method: method as 'GET',
          url,
          headers,
          ...(payload === undefined ? {} : { payload: payload as string }),
        }),
    };
    const alice = await newSession(ctx.app, 'alice');
    const admin = bearer(ctx.admin.accessToken);
    const circuitId = await registerCircuit(ctx.app, admin, 'multiplier', 'groth16');
    await tourAuth(tour, alice);
    const fresh = await newSession(ctx.app, 'alice');
    await tourApiKeys(tour, fresh);
    const moduleId = await tourModules(tour, fresh);
    await tourTasks(tour, fresh, circuitId, moduleId);
    await tourNodes(tour, fresh, admin);
    await tourCatalogs(tour, fresh, admin, circuitId);
    await tourAdmin(tour, admin, ctx.admin.userId, fresh);
    const nodeKey = apiKeyHeader((await registerNode(ctx.app, bearer(fresh.accessToken))).node_api_key);
    await sweep(tour, doc, {});
    await sweep(tour, doc, nodeKey);
    await sweep(tour, doc, admin);
    await sweep(tour, doc, bearer((await newSession(ctx.app, 'sweeper')).accessToken), true);
    await sweepUrls(tour, doc, admin);
    // Last: once the server drains (SIGTERM), every route answers 503 shutting_down.
    ctx.app.get(ConnectionDraining).begin();
    await sweep(tour, doc, admin);
  }, 180_000);

  it('answers each toured operation with a documented status, media type and body', () => {
    const check = conformanceChecker(doc);
    const mismatches = recorded.filter((r) => r.template !== undefined).map(check);
    expect(mismatches.filter((m) => m !== undefined)).toEqual([]);
    // A URL outside the document is the router's 404, in the same error format.
    const unknown = recorded.filter((r) => r.template === undefined);
    expect(unknown.map((r) => [r.status, JSON.parse(r.body).error])).toEqual([[404, 'not_found']]);
  });

  it('would report a missing required field, a wrong type, an undocumented status, media type or header value', () => {
    const check = conformanceChecker(doc);
    const me = recorded.find((r) => r.template === '/api/v1/auth/me' && r.status === 200)!;
    expect(check(me)).toBeUndefined();
    const { username, ...rest } = JSON.parse(me.body) as Record<string, unknown>;
    expect(check({ ...me, body: JSON.stringify(rest) })).toMatch(/must have required property 'username'/);
    expect(check({ ...me, body: JSON.stringify({ ...rest, username: 7 }) })).toMatch(
      /\/username must be string/,
    );
    expect(check({ ...me, body: JSON.stringify({ ...rest, username, last_login: 'yesterday' }) })).toMatch(
      /\/last_login must match format "date-time"/,
    );
    expect(check({ ...me, status: 418 })).toMatch(/status not documented/);
    const headers = { ...me.headers, 'x-ratelimit-remaining': 'many' };
    expect(check({ ...me, headers })).toMatch(/header X-RateLimit-Remaining: many/);
    expect(check({ ...me, contentType: 'text/plain' })).toMatch(/answered text\/plain/);
  });

  it('tours every operation of the document', () => {
    const toured = new Set(recorded.map((r) => `${r.method} ${r.template}`));
    const missed = operationsOf(doc).filter((operation) => !toured.has(operation));
    // A new route fails here until the tour calls it: the list names what to add.
    expect(missed).toEqual([]);
    expect(operationsOf(doc).length).toBeGreaterThan(50);
  });
});
