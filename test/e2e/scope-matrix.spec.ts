import { GRANTABLE_SCOPES } from '../../src/common/auth/scopes';
import { useAdminApp } from '../support/admin';
import { TestAgent } from '../support/agent';
import { apiKeyHeader, bearer, newSession, uniqueName } from '../support/auth';
import { heartbeat, registerNode } from '../support/nodes';
import { generateNodeKeyPair } from '../../src/common/receipts/receipt';
import { ORIGINAL_TASK, submitTask } from '../support/tasks';
import { fixture, sha256, uniqueFixture } from '../support/wasm';
import { circuitPayload, zkFixture } from '../support/zk';

type Request = { url: string; payload?: object };

/**
 * Every scope-guarded operation, read from the OpenAPI document (`x-required-scopes`), called with an API key
 * that lacks the scope (403) and with one that has only that scope (2xx). A new guarded route must be added
 * to REQUESTS, or the coverage check fails.
 */
describe('scope matrix for API keys', () => {
  const ctx = useAdminApp();
  let adminToken: string;
  let someUserId: string;
  let circuitId: string;
  const echoWasm = fixture('echo');
  const echoId = sha256(echoWasm);

  beforeAll(async () => {
    adminToken = ctx.admin.accessToken;
    someUserId = (await newSession(ctx.app, 'matrix')).userId;
    const circuit = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/circuits',
      headers: bearer(adminToken),
      payload: circuitPayload('multiplier', 'groth16', { wasm: true, zkey: true }),
    });
    circuitId = circuit.json<{ circuit_id: string }>().circuit_id;
    const upload = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...bearer(adminToken), 'content-type': 'application/wasm' },
      payload: echoWasm,
    });
    expect(upload.statusCode).toBe(201);
  });

  const freshKeyId = async (scopes: string[] = ['tasks:read']) => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: bearer(adminToken),
      payload: { name: 'target', scopes },
    });
    return res.json<{ key_id: string }>().key_id;
  };

  const freshModule = async () => {
    const bytes = uniqueFixture('echo');
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...bearer(adminToken), 'content-type': 'application/wasm' },
      payload: bytes,
    });
    return res.json<{ module_id: string }>().module_id;
  };

  const future = () => new Date(Date.now() + 3_600_000).toISOString();
  // One override in force per subject: each creation names an address of its own.
  let overrideSubjects = 0;
  const freshSubject = () => `198.51.100.${++overrideSubjects}`;
  const freshOverrideId = async () => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/throttle-overrides',
      headers: bearer(adminToken),
      payload: { subject_type: 'ip', subject_id: freshSubject(), rpm: 100, expires_at: future() },
    });
    return res.json<{ override_id: string }>().override_id;
  };

  // Nodes owned by the admin, whose keys the matrix mints; each destructive call gets a fresh one.
  const adminNode = async () => (await registerNode(ctx.app, bearer(adminToken))).node_id;
  const rejectedNode = async () => {
    const nodeId = await adminNode();
    await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/nodes/${nodeId}/reject`,
      headers: bearer(adminToken),
    });
    return nodeId;
  };

  // Tasks created by the admin; each destructive call gets a fresh one.
  const adminTask = async () => (await submitTask(ctx.app, bearer(adminToken))).task_id;
  // Completed through the node protocol; top priority, so that a fresh node leases it before the pending
  // tasks other operations left behind.
  const completedAdminTask = async () => {
    const { task_id } = await submitTask(ctx.app, bearer(adminToken), { priority: 9 });
    const agent = await TestAgent.register(ctx.app, bearer(adminToken));
    const [run] = await agent.claim();
    expect(run?.task_id).toBe(task_id);
    expect((await agent.report(run, 'ok', { sum: 6 })).statusCode).toBe(200);
    return task_id;
  };

  const REQUESTS: Record<string, (scopes: string[]) => Request | Promise<Request>> = {
    'POST /api/v1/nodes': () => ({
      url: '/api/v1/nodes',
      payload: {
        node_id: `matrix-${Math.random().toString(36).slice(2, 10)}`,
        region: 'us-west',
        node_type: 'compute',
        capabilities: { bandwidth_mbps: 150, cpu_cores: 8, memory_gb: 16, gpu_available: true },
      },
    }),
    'GET /api/v1/nodes': () => ({ url: '/api/v1/nodes' }),
    'GET /api/v1/nodes/{node_id}': async () => ({ url: `/api/v1/nodes/${await adminNode()}` }),
    'DELETE /api/v1/nodes/{node_id}': async () => ({ url: `/api/v1/nodes/${await adminNode()}` }),
    'POST /api/v1/nodes/{node_id}/reject': async () => ({ url: `/api/v1/nodes/${await adminNode()}/reject` }),
    'POST /api/v1/nodes/{node_id}/reinstate': async () => ({
      url: `/api/v1/nodes/${await rejectedNode()}/reinstate`,
    }),
    'POST /api/v1/nodes/{node_id}/keys': async () => ({
      url: `/api/v1/nodes/${await adminNode()}/keys`,
      payload: {},
    }),
    'GET /api/v1/nodes/{node_id}/keys': async () => ({ url: `/api/v1/nodes/${await adminNode()}/keys` }),
    'PUT /api/v1/nodes/{node_id}/heartbeat': async () => ({
      url: `/api/v1/nodes/${await adminNode()}/heartbeat`,
      payload: { cpu_usage: 10 },
    }),
    'GET /api/v1/nodes/{node_id}/heartbeats': async () => ({
      url: `/api/v1/nodes/${await adminNode()}/heartbeats`,
    }),
    'POST /api/v1/tasks': () => ({ url: '/api/v1/tasks', payload: ORIGINAL_TASK }),
    'GET /api/v1/tasks': () => ({ url: '/api/v1/tasks' }),
    'GET /api/v1/tasks/{task_id}': async () => ({ url: `/api/v1/tasks/${await adminTask()}` }),
    // A cancelled task: its event stream replays and ends, so inject returns.
    'GET /api/v1/tasks/{task_id}/events': async () => {
      const taskId = await adminTask();
      await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/tasks/${taskId}/cancel`,
        headers: bearer(adminToken),
      });
      return { url: `/api/v1/tasks/${taskId}/events` };
    },
    'POST /api/v1/tasks/{task_id}/cancel': async () => ({ url: `/api/v1/tasks/${await adminTask()}/cancel` }),
    'GET /api/v1/tasks/{task_id}/receipt': async () => ({
      url: `/api/v1/tasks/${await completedAdminTask()}/receipt`,
    }),
    'DELETE /api/v1/tasks/{task_id}': async () => ({ url: `/api/v1/tasks/${await adminTask()}` }),
    'GET /api/v1/cluster/stats': () => ({ url: '/api/v1/cluster/stats' }),
    'POST /api/v1/api-keys': (scopes) => ({ url: '/api/v1/api-keys', payload: { name: 'm', scopes } }),
    'GET /api/v1/api-keys': () => ({ url: '/api/v1/api-keys' }),
    'GET /api/v1/api-keys/{key_id}': async () => ({ url: `/api/v1/api-keys/${await freshKeyId()}` }),
    'DELETE /api/v1/api-keys/{key_id}': async () => ({ url: `/api/v1/api-keys/${await freshKeyId()}` }),
    // Rotating needs every scope of the rotated key, so the target holds only what the route requires.
    'POST /api/v1/api-keys/{key_id}/rotate': async (scopes) => ({
      url: `/api/v1/api-keys/${await freshKeyId(scopes)}/rotate`,
      payload: {},
    }),
    'GET /api/v1/admin/users': () => ({ url: '/api/v1/admin/users' }),
    'POST /api/v1/admin/users': () => ({
      url: '/api/v1/admin/users',
      payload: { username: uniqueName('made'), password: 'correct horse battery' },
    }),
    'PATCH /api/v1/admin/users/{id}': () => ({
      url: `/api/v1/admin/users/${someUserId}`,
      payload: { role: 'user' },
    }),
    'GET /api/v1/admin/audit-log': () => ({ url: '/api/v1/admin/audit-log' }),
    'POST /api/v1/admin/throttle-overrides': () => ({
      url: '/api/v1/admin/throttle-overrides',
      payload: { subject_type: 'ip', subject_id: freshSubject(), rpm: 100, expires_at: future() },
    }),
    'GET /api/v1/admin/throttle-overrides': () => ({ url: '/api/v1/admin/throttle-overrides' }),
    'DELETE /api/v1/admin/throttle-overrides/{id}': async () => ({
      url: `/api/v1/admin/throttle-overrides/${await freshOverrideId()}`,
    }),
    'POST /api/v1/admin/circuits': () => ({
      url: '/api/v1/admin/circuits',
      payload: circuitPayload('multiplier', 'plonk'),
    }),
    // Registered (again) for each call: the denied call must leave it, the allowed one deletes it.
    'DELETE /api/v1/admin/circuits/{circuit_id}': async () => {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/admin/circuits',
        headers: bearer(adminToken),
        payload: circuitPayload('poseidon_preimage', 'groth16'),
      });
      return { url: `/api/v1/admin/circuits/${res.json<{ circuit_id: string }>().circuit_id}` };
    },
    // The shared circuit, which is active: allowed, the restore answers it unchanged.
    'POST /api/v1/admin/circuits/{circuit_id}/restore': () => ({
      url: `/api/v1/admin/circuits/${circuitId}/restore`,
    }),
    'POST /api/v1/modules': () => ({
      url: '/api/v1/modules',
      payload: { wasm_module: echoWasm.toString('base64') },
    }),
    'GET /api/v1/modules': () => ({ url: '/api/v1/modules' }),
    'GET /api/v1/modules/usage': () => ({ url: '/api/v1/modules/usage' }),
    'DELETE /api/v1/modules/{module_id}': async () => ({ url: `/api/v1/modules/${await freshModule()}` }),
    'GET /api/v1/modules/{module_id}': () => ({ url: `/api/v1/modules/${echoId}` }),
    'GET /api/v1/modules/{module_id}/download': () => ({ url: `/api/v1/modules/${echoId}/download` }),
    'POST /api/v1/modules/{module_id}/run': () => ({
      url: `/api/v1/modules/${echoId}/run`,
      payload: { inputs: { hello: 'matrix' } },
    }),
    'POST /api/v1/proofs/verify': () => {
      const f = zkFixture('multiplier', 'groth16');
      return {
        url: '/api/v1/proofs/verify',
        payload: { circuit_id: circuitId, proof: f.proof, public_signals: f.publicSignals },
      };
    },
  };

  it('covers every scope-guarded operation and enforces each scope both ways', async () => {
    const doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    const guarded: [string, string[]][] = [];
    for (const [path, ops] of Object.entries(
      doc.paths as Record<string, Record<string, Record<string, unknown>>>,
    )) {
      for (const [method, op] of Object.entries(ops)) {
        const scopes = (op['x-required-scopes'] as string[] | undefined) ?? [];
        if (scopes.length > 0) guarded.push([`${method.toUpperCase()} ${path}`, scopes]);
      }
    }
    expect(guarded.map(([op]) => op).sort()).toEqual(Object.keys(REQUESTS).sort());

    for (const [op, required] of guarded) {
      const method = op.split(' ')[0] as 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
      const mint = async (scopes: string[]) => {
        const minted = (
          await ctx.app.inject({
            method: 'POST',
            url: '/api/v1/api-keys',
            headers: bearer(adminToken),
            payload: { name: 'matrix', scopes },
          })
        ).json<{ api_key: string; key_id: string }>();
        mintedKeyIds.push(minted.key_id);
        return minted.api_key;
      };
      // Revoked after each operation, so the admin stays under the 50-live-keys limit.
      const mintedKeyIds: string[] = [];
      const lacking = await mint(GRANTABLE_SCOPES.filter((scope) => !required.includes(scope)));
      const having = await mint(required);

      const denied = await REQUESTS[op](required);
      const res403 = await ctx.app.inject({
        method,
        url: denied.url,
        headers: apiKeyHeader(lacking),
        payload: denied.payload,
      });
      expect({ op, status: res403.statusCode }).toEqual({ op, status: 403 });

      const allowed = await REQUESTS[op](required);
      const res2xx = await ctx.app.inject({
        method,
        url: allowed.url,
        headers: apiKeyHeader(having),
        payload: allowed.payload,
      });
      expect({
        op,
        ok: res2xx.statusCode >= 200 && res2xx.statusCode < 300,
        body: res2xx.statusCode < 300 ? '' : res2xx.body,
      }).toEqual({
        op,
        ok: true,
        body: '',
      });
      for (const keyId of mintedKeyIds) {
        await ctx.app.inject({
          method: 'DELETE',
          url: `/api/v1/api-keys/${keyId}`,
          headers: bearer(adminToken),
        });
      }
    }
  });

  it('admin routes need an admin-owned key: a user’s key never reaches them', async () => {
    const user = await newSession(ctx.app, 'plain');
    const res = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/admin/users',
      headers: apiKeyHeader(user.apiKey),
    });
    expect(res.statusCode).toBe(403);
  });

  it('a node key works only on its own node’s agent routes: every other operation is 403 or 404', async () => {
    // With a key: a node without one gets no work (its claims are 403 no_public_key).
    const own = await registerNode(ctx.app, bearer(adminToken), {
      public_key: generateNodeKeyPair().publicKeyBase64,
    });
    const otherNode = await adminNode();
    const doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    const allowed: string[] = [];
    const checked: string[] = [];
    for (const [path, ops] of Object.entries(
      doc.paths as Record<string, Record<string, Record<string, unknown>>>,
    )) {
      for (const [method, op] of Object.entries(ops)) {
        if (!op.security) continue; // public routes need no credential at all
        const agent = op['x-node-agent'] as { node_param: string | null } | undefined;
        const fill = (nodeId: string) =>
          path
            .replace(/\{node_id\}/g, nodeId)
            .replace(/\{module_id\}/g, echoId)
            .replace(/\{circuit_id\}/g, circuitId)
            .replace(/\{[a-z_]+\}/g, '00000000-0000-4000-8000-000000000000');
        const op_ = `${method.toUpperCase()} ${path}`;
        // Shared content a node downloads to execute (modules, circuit artifacts): any node key may read it.
        const sharedRead = agent !== undefined && !agent.node_param && method === 'get';
        // A run route names no node: a run not leased to this node is refused by the handler (lease_lost).
        const runRoute = agent !== undefined && !agent.node_param && !sharedRead;
        const payload = path.endsWith('/release')
          ? { fence: '1' }
          : runRoute
            ? {
                fence: '1',
                outcome: 'ok',
                output_hash: 'a'.repeat(64),
                execution_time_ms: 1,
                signature: 'A'.repeat(86) + '==',
              }
            : {};
        const send = (url: string) =>
          ctx.app.inject({
            method: method.toUpperCase() as 'GET',
            url,
            headers: apiKeyHeader(own.node_api_key),
            ...(method === 'get' || method === 'delete' ? {} : { payload }),
          });
        if (sharedRead) {
          const read = await send(fill(otherNode));
          expect({ op: op_, ok: read.statusCode }).toEqual({ op: op_, ok: 200 });
          allowed.push(op_);
          checked.push(op_);
          continue;
        }
        const elsewhere = await send(fill(otherNode));
        expect({ op: op_, denied: (runRoute ? [409] : [403, 404]).includes(elsewhere.statusCode) }).toEqual({
          op: op_,
          denied: true,
        });
        if (runRoute) expect(elsewhere.json().reason).toBe('lease_lost');
        checked.push(op_);
        if (agent?.node_param) {
          const home = await send(fill(own.node_id));
          // A claim with nothing queued for the node answers 204.
          expect({ op: op_, ok: [200, 204].includes(home.statusCode) }).toEqual({ op: op_, ok: true });
          allowed.push(op_);
        }
      }
    }
    expect(allowed.sort()).toEqual([
      'GET /api/v1/circuits/{circuit_id}',
      'GET /api/v1/circuits/{circuit_id}/wasm',
      'GET /api/v1/circuits/{circuit_id}/zkey',
      'GET /api/v1/modules/{module_id}/download',
      'POST /api/v1/nodes/{node_id}/claim',
      'PUT /api/v1/nodes/{node_id}/heartbeat',
    ]);
    expect(checked.length).toBeGreaterThan(30);
    // A user's credential cannot stand in for the agent either: the node key is the only node credential.
    const user = await newSession(ctx.app, 'notagent');
    expect((await heartbeat(ctx.app, own.node_id, apiKeyHeader(user.apiKey))).statusCode).toBe(404);
  });
});
