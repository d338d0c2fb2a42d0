import { randomBytes, randomUUID } from 'node:crypto';
import { useAdminApp } from '../support/admin';
import { TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { answerSeen, everyCredential } from '../support/ownership';
import { Headers, registerNode, uniqueNodeId } from '../support/nodes';
import { submitTask } from '../support/tasks';
import { postFixtureProof, registerCircuit } from '../support/zk';
import { sha256, uniqueFixture } from '../support/wasm';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * One kind of resource a user owns: fresh ones of Alice's in each state worth trying (a check of the state
 * before the owner's would answer differently), an id nobody has, and what Alice reads of it.
 */
interface Kind {
  states: Record<string, () => Promise<string>>;
  unknown(): string;
  state(id: string): Promise<unknown>;
}

/** An operation on an owned resource: its kind, the body it is sent, and (not 404) the status README gives. */
interface Owned {
  kind: Kind;
  url: (id: string) => string;
  payload?: object;
  status?: number;
  /** The states this operation is tried in, when not all of its kind's. */
  states?: string[];
}

/**
 * Operations that name no resource of one user's in their path, each with why. A new operation must be put
 * either here or in OWNED below, or the coverage check fails: nothing that names a user's thing goes unchecked.
 */
const EXEMPT: Record<
  string,
  'public' | 'self' | 'list' | 'aggregate' | 'create' | 'admin' | 'shared' | 'agent'
> = {
  'GET /api/v1/health': 'public',
  'GET /api/v1/health/ready': 'public',
  'POST /api/v1/auth/register': 'public',
  'POST /api/v1/auth/login': 'public',
  'POST /api/v1/auth/refresh': 'public',
  'POST /api/v1/auth/logout': 'public',
  'GET /api/v1/receipts/public-key': 'public',
  'GET /api/v1/programs': 'public',
  'POST /api/v1/auth/logout-all': 'self',
  'POST /api/v1/auth/password': 'self',
  'GET /api/v1/auth/me': 'self',
  'GET /api/v1/auth/api-key/validate': 'self',
  // Lists: ownership-matrix-lists.spec.ts checks that none shows another user's items.
  'GET /api/v1/tasks': 'list',
  'GET /api/v1/nodes': 'list',
  'GET /api/v1/api-keys': 'list',
  'GET /api/v1/modules': 'list',
  'GET /api/v1/modules/usage': 'list',
  'GET /api/v1/circuits': 'list',
  // Counts over every user's nodes and tasks, no item of anyone's (README: Nodes).
  'GET /api/v1/cluster/stats': 'aggregate',
  // The proof's task (or run) is in the body: proofs-verify.spec.ts checks another user's is a 404.
  'POST /api/v1/proofs/verify': 'create',
  'POST /api/v1/tasks': 'create',
  'POST /api/v1/nodes': 'create',
  'POST /api/v1/api-keys': 'create',
  'POST /api/v1/modules': 'create',
  'GET /api/v1/admin/users': 'admin',
  'POST /api/v1/admin/users': 'admin',
  'PATCH /api/v1/admin/users/{id}': 'admin',
  'GET /api/v1/admin/audit-log': 'admin',
  'POST /api/v1/admin/throttle-overrides': 'admin',
  'GET /api/v1/admin/throttle-overrides': 'admin',
  'DELETE /api/v1/admin/throttle-overrides/{id}': 'admin',
  'POST /api/v1/admin/circuits': 'admin',
  'DELETE /api/v1/admin/circuits/{circuit_id}': 'admin',
  'POST /api/v1/admin/circuits/{circuit_id}/restore': 'admin',
  // Modules are shared by hash and circuits readable by any caller (README: WebAssembly modules, Proofs).
  'GET /api/v1/modules/{module_id}': 'shared',
  'GET /api/v1/modules/{module_id}/download': 'shared',
  'POST /api/v1/modules/{module_id}/run': 'shared',
  'GET /api/v1/circuits/{circuit_id}': 'shared',
  'GET /api/v1/circuits/{circuit_id}/wasm': 'shared',
  'GET /api/v1/circuits/{circuit_id}/zkey': 'shared',
  // Node keys only: ownership-matrix-lists.spec.ts uses another node's key on them.
  'POST /api/v1/nodes/{node_id}/claim': 'agent',
  'POST /api/v1/runs/{run_id}/result': 'agent',
  'POST /api/v1/runs/{run_id}/release': 'agent',
};

/**
 * Every operation on a resource a user owns, called by Bob (a second, non-admin user) with his session token
 * and with an API key holding every scope a user can have, on a fresh resource of Alice's: the answer is the
 * one an unknown id gets (status, error code, message and headers), and Alice reads her resource unchanged
 * afterwards.
 */
describe('ownership matrix: another user’s resource answers as an unknown one, and stays as it was', () => {
  const ctx = useAdminApp();
  let alice: Session;
  let bob: Session;
  let bobsCredentials: [string, Headers][];

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
    bobsCredentials = await everyCredential(ctx.app, bob);
  });

  const asAlice = (method: Method, url: string, payload?: object) =>
    ctx.app.inject({ method, url, headers: bearer(alice.accessToken), ...(payload ? { payload } : {}) });
  /** Status and body, which a read shows as it is. */
  const read = async (url: string) => {
    const res = await asAlice('GET', url);
    return { status: res.statusCode, body: res.json<unknown>() };
  };

  const pendingTask = async () => (await submitTask(ctx.app, bearer(alice.accessToken))).task_id;
  const cancelledTask = async () => {
    const id = await pendingTask();
    expect((await asAlice('POST', `/api/v1/tasks/${id}/cancel`)).statusCode).toBe(200);
    return id;
  };
  // Completed through the node protocol by a node of Alice's; top priority, so it is leased before the rest.
  const completedTask = async () => {
    const { task_id } = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
    const agent = await TestAgent.register(ctx.app, bearer(alice.accessToken));
    const [run] = await agent.claim();
    expect(run?.task_id).toBe(task_id);
    expect((await agent.report(run, 'ok', { sum: 6 })).statusCode).toBe(200);
    return task_id;
  };
  const task: Kind = {
    states: { pending: pendingTask, cancelled: cancelledTask, completed: completedTask },
    unknown: () => randomUUID(),
    state: (id) => read(`/api/v1/tasks/${id}`),
  };
  const liveKey = async () => {
    const res = await asAlice('POST', '/api/v1/api-keys', { name: 'alice', scopes: ['tasks:read'] });
    expect(res.statusCode).toBe(201);
    return res.json<{ key_id: string }>().key_id;
  };
  const apiKey: Kind = {
    states: {
      live: liveKey,
      revoked: async () => {
        const id = await liveKey();
        expect((await asAlice('DELETE', `/api/v1/api-keys/${id}`)).statusCode).toBe(204);
        return id;
      },
    },
    unknown: () => randomUUID(),
    state: (id) => read(`/api/v1/api-keys/${id}`),
  };
  const module: Kind = {
    states: {
      uploaded: async () => {
        const res = await ctx.app.inject({
          method: 'POST',
          url: '/api/v1/modules',
          headers: { ...bearer(alice.accessToken), 'content-type': 'application/wasm' },
          payload: uniqueFixture('echo'),
        });
        expect(res.statusCode).toBe(201);
        return res.json<{ module_id: string }>().module_id;
      },
    },
    unknown: () => sha256(randomBytes(16)),
    // Alice's ownership is her list (the metadata is anyone's who has the hash) and her storage charge.
    state: async (id) => ({
      mine: (await read('/api/v1/modules?limit=100')).body,
      usage: (await read('/api/v1/modules/usage')).body,
      metadata: await read(`/api/v1/modules/${id}`),
    }),
  };
  const liveNode = async () => (await registerNode(ctx.app, bearer(alice.accessToken))).node_id;
  const node: Kind = {
    states: {
      registered: liveNode,
      rejected: async () => {
        const id = await liveNode();
        expect((await asAlice('POST', `/api/v1/nodes/${id}/reject`)).statusCode).toBe(200);
        return id;
      },
    },
    unknown: () => uniqueNodeId('ghost'),
    state: async (id) => ({
      node: await read(`/api/v1/nodes/${id}`),
      keys: await read(`/api/v1/nodes/${id}/keys`),
      heartbeats: await read(`/api/v1/nodes/${id}/heartbeats`),
    }),
  };

  // A verification Alice stored (POST /proofs/verify), on a circuit the admin registered once.
  let circuitId: string | undefined;
  const proof: Kind = {
    states: {
      verified: async () => {
        circuitId ??= await registerCircuit(ctx.app, bearer(ctx.admin.accessToken), 'multiplier', 'groth16');
        const res = await postFixtureProof(
          ctx.app,
          bearer(alice.accessToken),
          circuitId,
          'multiplier',
          'groth16',
        );
        expect(res.statusCode).toBe(200);
        return res.json<{ proof_id: string }>().proof_id;
      },
    },
    unknown: () => randomUUID(),
    state: (id) => read(`/api/v1/proofs/${id}`),
  };

  const OWNED: Record<string, Owned> = {
    'GET /api/v1/tasks/{task_id}': { kind: task, url: (id) => `/api/v1/tasks/${id}` },
    'GET /api/v1/proofs/{proof_id}': { kind: proof, url: (id) => `/api/v1/proofs/${id}` },
    // Not a pending task: its stream, if it were opened, would not end.
    'GET /api/v1/tasks/{task_id}/events': {
      kind: task,
      url: (id) => `/api/v1/tasks/${id}/events`,
      states: ['cancelled', 'completed'],
    },
    'POST /api/v1/tasks/{task_id}/cancel': { kind: task, url: (id) => `/api/v1/tasks/${id}/cancel` },
    'DELETE /api/v1/tasks/{task_id}': { kind: task, url: (id) => `/api/v1/tasks/${id}` },
    'GET /api/v1/tasks/{task_id}/receipt': { kind: task, url: (id) => `/api/v1/tasks/${id}/receipt` },
    'GET /api/v1/api-keys/{key_id}': { kind: apiKey, url: (id) => `/api/v1/api-keys/${id}` },
    'DELETE /api/v1/api-keys/{key_id}': { kind: apiKey, url: (id) => `/api/v1/api-keys/${id}` },
    'POST /api/v1/api-keys/{key_id}/rotate': {
      kind: apiKey,
      url: (id) => `/api/v1/api-keys/${id}/rotate`,
      payload: {},
    },
    'DELETE /api/v1/modules/{module_id}': { kind: module, url: (id) => `/api/v1/modules/${id}` },
    'GET /api/v1/nodes/{node_id}': { kind: node, url: (id) => `/api/v1/nodes/${id}` },
    'DELETE /api/v1/nodes/{node_id}': { kind: node, url: (id) => `/api/v1/nodes/${id}` },
    'POST /api/v1/nodes/{node_id}/reject': { kind: node, url: (id) => `/api/v1/nodes/${id}/reject` },
    // Admins only: a user gets the 403 of the role, for any node.
    'POST /api/v1/nodes/{node_id}/reinstate': {
      kind: node,
      url: (id) => `/api/v1/nodes/${id}/reinstate`,
      status: 403,
    },
    'POST /api/v1/nodes/{node_id}/keys': {
      kind: node,
      url: (id) => `/api/v1/nodes/${id}/keys`,
      payload: { grace_seconds: 60 },
    },
    'GET /api/v1/nodes/{node_id}/keys': { kind: node, url: (id) => `/api/v1/nodes/${id}/keys` },
    'PUT /api/v1/nodes/{node_id}/heartbeat': {
      kind: node,
      url: (id) => `/api/v1/nodes/${id}/heartbeat`,
      payload: { cpu_usage: 10, memory_usage: 20, network_latency_ms: 5 },
    },
    'GET /api/v1/nodes/{node_id}/heartbeats': {
      kind: node,
      url: (id) => `/api/v1/nodes/${id}/heartbeats`,
    },
  };

  it('classifies every operation of the OpenAPI document as owned (checked below) or exempt, with a reason', async () => {
    const doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const classified = [...Object.keys(OWNED), ...Object.keys(EXEMPT)];
    expect(new Set(classified).size).toBe(classified.length);
    expect(operations.sort()).toEqual(classified.sort());
    // Whatever names a user's resource in its path is owned, not exempt.
    expect(
      Object.keys(EXEMPT).filter(
        (op) => /\{(task_id|key_id|node_id|run_id|proof_id)\}/.test(op) && EXEMPT[op] !== 'agent',
      ),
    ).toEqual([]);
  });

  it.each(Object.keys(OWNED))('%s', async (op) => {
    const method = op.split(' ')[0] as Method;
    const { kind, url, payload, status = 404, states = Object.keys(kind.states) } = OWNED[op];
    for (const state of states) {
      for (const [credential, headers] of bobsCredentials) {
        const id = await kind.states[state]();
        const before = await kind.state(id);
        const send = (target: string, as: Method | 'HEAD' = method) =>
          ctx.app.inject({ method: as, url: url(target), headers, ...(payload ? { payload } : {}) });
        const missing = kind.unknown();
        const where = { op, state, credential };
        const hidden = answerSeen(await send(id), id);
        expect({ ...where, ...hidden }).toEqual({ ...where, ...answerSeen(await send(missing), missing) });
        // Every GET route answers HEAD too (not in the document): headers only, the same ones.
        if (method === 'GET') {
          const head = answerSeen(await send(id, 'HEAD'), id);
          expect({ ...where, head }).toEqual({
            ...where,
            head: answerSeen(await send(missing, 'HEAD'), missing),
          });
          expect({ ...where, head: head.status }).toEqual({ ...where, head: status });
        }
        expect({ ...where, status: hidden.status }).toEqual({ ...where, status });
        expect({ ...where, after: await kind.state(id) }).toEqual({ ...where, after: before });
        // Nothing Bob did to it is recorded as done.
        const done = await ctx.dataSource.query<unknown[]>(
          `SELECT action FROM audit_log WHERE user_id = $1 AND resource_id = $2 AND status = 'success'`,
          [bob.userId, id],
        );
        expect({ ...where, done }).toEqual({ ...where, done: [] });
        // The control: to Alice the resource is there (whatever she may do with it in this state).
        if (status === 404) {
          const own = await asAlice(method, url(id), payload);
          expect({ ...where, owner: own.statusCode }).not.toEqual({ ...where, owner: 404 });
        }
      }
    }
  });
});
