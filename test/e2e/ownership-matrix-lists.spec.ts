import { randomUUID } from 'node:crypto';
import { useAdminApp } from '../support/admin';
import { LeasedRun, TestAgent } from '../support/agent';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { answerSeen, everyCredential } from '../support/ownership';
import { heartbeat, Headers, registerNode, uniqueNodeId } from '../support/nodes';
import { getTask, ORIGINAL_TASK, submitTask } from '../support/tasks';
import { uniqueFixture } from '../support/wasm';

/** The other half of ownership-matrix.spec.ts: the lists, their admin filter, and the node protocol. */
describe('ownership matrix: lists and the node protocol', () => {
  const ctx = useAdminApp();
  let alice: Session;
  let bob: Session;
  let bobsCredentials: [string, Headers][];

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
    bobsCredentials = await everyCredential(ctx.app, bob);
  });

  const get = (url: string, headers: Headers) => ctx.app.inject({ method: 'GET', url, headers });
  const upload = async (session: Session) => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...bearer(session.accessToken), 'content-type': 'application/wasm' },
      payload: uniqueFixture('echo'),
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ module_id: string }>().module_id;
  };
  const mintKey = async (session: Session) => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: bearer(session.accessToken),
      payload: { name: 'listed', scopes: ['tasks:read'] },
    });
    return res.json<{ key_id: string }>().key_id;
  };
  /** One of each listed thing, for `session`. */
  const things = async (session: Session) => ({
    tasks: [(await submitTask(ctx.app, bearer(session.accessToken))).task_id],
    nodes: [(await registerNode(ctx.app, bearer(session.accessToken))).node_id],
    'api-keys': [await mintKey(session)],
    modules: [await upload(session)],
  });
  const ids = (body: unknown, field: string): string[] => {
    const items = Array.isArray(body) ? body : (body as { items: Record<string, string>[] }).items;
    return (items as Record<string, string>[]).map((item) => item[field]);
  };
  const FIELD = { tasks: 'task_id', nodes: 'node_id', 'api-keys': 'key_id', modules: 'module_id' } as const;
  type Listed = keyof typeof FIELD;
  /**
   * A non-admin's `?all=true`: README makes it the admins' filter on tasks and nodes (others get 403). On the
   * module list (a query without `all`) and the key list (no query at all) it is an unknown parameter (422).
   * None may show another user's items.
   */
  const ALL_ANSWER: Record<Listed, number> = { tasks: 403, nodes: 403, 'api-keys': 422, modules: 422 };

  it('a list shows only the caller’s items, and a non-admin’s `all=true` is refused, never obeyed', async () => {
    const alices = await things(alice);
    const bobs = await things(bob);
    for (const [credential, headers] of bobsCredentials) {
      for (const list of Object.keys(FIELD) as Listed[]) {
        const res = await get(`/api/v1/${list}${list === 'api-keys' ? '' : '?limit=100'}`, headers);
        const listed = ids(res.json(), FIELD[list]);
        expect({ credential, list, status: res.statusCode }).toEqual({ credential, list, status: 200 });
        expect({ credential, list, listed }).toEqual({
          credential,
          list,
          listed: expect.arrayContaining(bobs[list]),
        });
        expect({ credential, list, leaked: listed.filter((id) => alices[list].includes(id)) }).toEqual({
          credential,
          list,
          leaked: [],
        });
        const all = await get(`/api/v1/${list}?all=true${list === 'api-keys' ? '' : '&limit=100'}`, headers);
        const leaked =
          all.statusCode === 200
            ? ids(all.json(), FIELD[list]).filter((id) => alices[list].includes(id))
            : [];
        expect({ credential, list, status: all.statusCode, leaked }).toEqual({
          credential,
          list,
          status: ALL_ANSWER[list],
          leaked: [],
        });
      }
      const usage = await get('/api/v1/modules/usage', headers);
      expect({ credential, used_modules: usage.json().used_modules }).toEqual({
        credential,
        used_modules: 1,
      });
    }
    // The filter is real: an admin's `all=true` lists Alice's task and node.
    const admin = bearer(ctx.admin.accessToken);
    for (const list of ['tasks', 'nodes'] as const) {
      const res = await get(`/api/v1/${list}?all=true&limit=100`, admin);
      expect(ids(res.json(), FIELD[list])).toEqual(expect.arrayContaining(alices[list]));
    }
  });

  it('Alice’s Idempotency-Key is not Bob’s: with it, Bob submits a task of his own', async () => {
    for (const [credential, headers] of bobsCredentials) {
      // The same body (her task, were the key shared) and another one (a 422 key reuse, were it shared).
      for (const body of [{}, { priority: 7 }]) {
        const key = { 'idempotency-key': `hers-${randomUUID()}` };
        const hers = await submitTask(ctx.app, { ...bearer(alice.accessToken), ...key });
        const res = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/tasks',
          headers: { ...headers, ...key },
          payload: { ...ORIGINAL_TASK, ...body },
        });
        expect({ credential, body, status: res.statusCode }).toEqual({ credential, body, status: 201 });
        expect(res.json().task_id).not.toBe(hers.task_id);
        expect((await getTask(ctx.app, hers.task_id, bearer(alice.accessToken))).status).toBe('pending');
      }
    }
  });

  it('another node’s key on Alice’s node and run is refused as for unknown ones; her lease and queue are untouched', async () => {
    // One task for Alice's node to hold, one left queued: Bob's node key must lease neither.
    const held = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
    const aliceNode = await TestAgent.register(ctx.app, bearer(alice.accessToken));
    const [run] = await aliceNode.claim();
    expect(run?.task_id).toBe(held.task_id);
    const queued = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
    const bobNode = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const bobKey = apiKeyHeader(bobNode.node.node_api_key);
    const lease = async () =>
      (
        await ctx.dataSource.query<{ status: string; node_id: string; lease_expires_at: Date }[]>(
          `SELECT status, node_id, lease_expires_at FROM task_runs WHERE run_id = $1`,
          [run.run_id],
        )
      )[0];
    const leaseBefore = await lease();
    const nodeBefore = (await get(`/api/v1/nodes/${aliceNode.nodeId}`, bearer(alice.accessToken))).json();
    const ghostNode = uniqueNodeId('ghost');
    const ghostRun: LeasedRun = { ...run, run_id: randomUUID() };
    const post = (url: string, headers: Headers, payload: object) =>
      ctx.app.inject({ method: 'POST', url, headers, payload });
    const claimOn = (nodeId: string, headers: Headers) =>
      post(`/api/v1/nodes/${nodeId}/claim`, headers, { max: 16, wait_ms: 0 });

    // Claim and heartbeat on her node: the 404 of a node that does not exist.
    expect(answerSeen(await claimOn(aliceNode.nodeId, bobKey), aliceNode.nodeId)).toEqual({
      ...answerSeen(await claimOn(ghostNode, bobKey), ghostNode),
      status: 404,
    });
    const beat = { cpu_usage: 99, runs: [{ run_id: run.run_id, fence: run.fence }] };
    expect(answerSeen(await heartbeat(ctx.app, aliceNode.nodeId, bobKey, beat), aliceNode.nodeId)).toEqual({
      ...answerSeen(await heartbeat(ctx.app, ghostNode, bobKey, beat), ghostNode),
      status: 404,
    });
    // Her run named in his own node's heartbeat: lost to him, not renewed.
    const own = await bobNode.heartbeat([run]);
    expect(own.json().leases).toEqual({ renewed: [], lost: [run.run_id], cancel: [] });
    // A result (validly signed by his node) and a release: lease_lost, as for a run that does not exist. A body
    // that fails validation (422) ends the lease when its own node sends it (README): not when his does.
    for (const [name, send, status] of [
      ['result', (r: LeasedRun) => bobNode.report(r, 'ok', { sum: 6 }), 409],
      ['release', (r: LeasedRun) => bobNode.release(r), 409],
      ['refused result', (r: LeasedRun) => bobNode.report(r, 'not-an-outcome', null), 422],
    ] as const) {
      const mine = answerSeen(await send(run), run.run_id);
      expect({ name, ...mine }).toEqual({ name, ...answerSeen(await send(ghostRun), ghostRun.run_id) });
      expect({ name, status: mine.status }).toEqual({ name, status });
    }
    // Bob's user credentials are no agent at all: the same refusal for her node and run as for unknown ones.
    for (const [credential, headers] of bobsCredentials) {
      for (const [route, url, hers, nobodys] of [
        ['claim', (id: string) => `/api/v1/nodes/${id}/claim`, aliceNode.nodeId, ghostNode],
        ['release', (id: string) => `/api/v1/runs/${id}/release`, run.run_id, ghostRun.run_id],
        ['result', (id: string) => `/api/v1/runs/${id}/result`, run.run_id, ghostRun.run_id],
      ] as const) {
        // The credential is refused before the body is validated: one body serves all three routes.
        const body = {
          fence: run.fence,
          outcome: 'ok',
          output: null,
          output_hash: 'a'.repeat(64),
          execution_time_ms: 1,
        };
        const a = answerSeen(await post(url(hers), headers, body), hers);
        expect({ credential, route, ...a }).toEqual({
          credential,
          route,
          ...answerSeen(await post(url(nobodys), headers, body), nobodys),
        });
        expect({ credential, route, status: a.status }).toEqual({ credential, route, status: 403 });
      }
    }

    // Nothing moved: her lease as it was, her queued task still waiting with no run, her node not beaten.
    expect(await lease()).toEqual(leaseBefore);
    expect((await getTask(ctx.app, queued.task_id, bearer(alice.accessToken))).runs).toEqual([]);
    expect((await get(`/api/v1/nodes/${aliceNode.nodeId}`, bearer(alice.accessToken))).json()).toEqual(
      nodeBefore,
    );
    // And her node delivers the run it held.
    expect((await aliceNode.report(run, 'ok', { sum: 6 })).statusCode).toBe(200);
    expect((await getTask(ctx.app, held.task_id, bearer(alice.accessToken))).status).toBe('completed');
  });

  it('the node-protocol routes checked above are every route a node key may call that names a node or a run', async () => {
    const doc = (await get('/api-docs/openapi.json', {})).json<{
      paths: Record<string, Record<string, { 'x-node-agent'?: unknown }>>;
    }>();
    const agentRoutes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op['x-node-agent'] !== undefined && /\{(node_id|run_id)\}/.test(path))
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(agentRoutes.sort()).toEqual([
      'POST /api/v1/nodes/{node_id}/claim',
      'POST /api/v1/runs/{run_id}/release',
      'POST /api/v1/runs/{run_id}/result',
      'PUT /api/v1/nodes/{node_id}/heartbeat',
    ]);
  });
});
