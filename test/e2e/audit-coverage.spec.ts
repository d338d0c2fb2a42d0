import type { Response } from 'light-my-request';
import { isDeepStrictEqual } from 'node:util';
import { useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, login, newSession, Session, uniqueName } from '../support/auth';
import { UNLIMITED_RATES } from '../support/fuzz';
import { OpenApiDocument } from '../support/openapi';
import { sha256, uniqueFixture } from '../support/wasm';
import { circuitPayload, postZkTask } from '../support/zk';

/**
 * "Who changed what, when?": every state-changing operation of the served OpenAPI document, performed once
 * successfully, leaves an audit row naming the action, the actor, the resource and the request id of its
 * response — or is listed in EXEMPT with the reason. A new mutating route that is neither fails this spec, and
 * so does an exemption naming a route that no longer exists.
 */
const EXEMPT: Record<string, string> = {
  'PUT /api/v1/nodes/{node_id}/heartbeat':
    'node protocol, thousands a second; a node refused or quarantined is audited as run.* / node.*',
  'POST /api/v1/nodes/{node_id}/claim':
    'node protocol, thousands a second; a lease lost is audited run.lease_lost',
  'POST /api/v1/runs/{run_id}/result':
    'node protocol, thousands a second; refused results are audited run.signature_invalid / run.result_invalid / run.invalid',
  'POST /api/v1/runs/{run_id}/release':
    'node protocol: an orderly hand-back at a node’s stop, visible as the run’s outcome released and its task event',
  'POST /api/v1/modules/{module_id}/run':
    'runs in the request and stores nothing: its answer is the result, no state changes',
  'POST /api/v1/proofs/verify':
    'a computation at proof-tier volume; what it stores (the proof artifact) carries its user, circuit, verdict and time',
};

const MUTATING = ['post', 'put', 'patch', 'delete'];

interface Expected {
  action: string;
  userId: string | null;
  resourceType?: string | null;
  resourceId?: string;
  /** Set by `perform`: the API key the call was made with (metadata.api_key_id), or null for a bearer token. */
  apiKeyId?: string | null;
}

interface AuditRow {
  action: string;
  user_id: string | null;
  resource_type: string | null;
  resource_id: string | null;
  request_id: string | null;
  status: string;
  metadata: Record<string, unknown> | null;
}

describe('audit coverage: every mutating operation is audited or consciously exempt', () => {
  const ctx = useAdminApp({ env: { ...UNLIMITED_RATES, PROOF_WORKERS: '1' } });
  let doc: OpenApiDocument;
  let alice: Session;
  let aliceKeyId: string;

  beforeAll(async () => {
    doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json<OpenApiDocument>();
    alice = await newSession(ctx.app, 'alice');
    const keys = await call('GET', '/api-keys', bearer(alice.accessToken));
    const own = keys.json<{ key_id: string; key_prefix: string }[]>();
    aliceKeyId = own.find((key) => alice.apiKey.startsWith(key.key_prefix))!.key_id;
  });

  const admin = () => bearer(ctx.admin.accessToken);
  const call = (method: string, url: string, headers: Record<string, string>, payload?: object) =>
    ctx.app.inject({
      method: method as 'POST',
      url: `/api/v1${url}`,
      headers,
      ...(payload ? { payload } : {}),
    });

  /** The row an operation should leave (resource type and id only where the caller knows them). */
  const rowOf = (
    action: string,
    userId: string | null,
    resourceType?: string,
    resourceId?: string,
  ): Expected => ({
    action,
    userId,
    ...(resourceType !== undefined ? { resourceType } : {}),
    ...(resourceId !== undefined ? { resourceId } : {}),
  });

  const performed = new Map<string, { res: Response; expected: Expected }>();
  const state: Record<string, string> = {};
  const perform = (op: string, res: Response, expected: Expected) => {
    // Performed successfully, or the row it should leave is not the one this spec is about.
    expect({ op, ok: res.statusCode >= 200 && res.statusCode < 300, body: res.body.slice(0, 300) }).toEqual(
      expect.objectContaining({ op, ok: true }),
    );
    const key = res.raw.req.headers['x-api-key'];
    performed.set(op, { res, expected: { ...expected, apiKeyId: key === alice.apiKey ? aliceKeyId : null } });
  };

  /** Each audited operation, performed once in this order (later ones use what earlier ones made). */
  const steps: Record<string, () => Promise<[Response, Expected]>> = {
    'POST /api/v1/auth/register': async () => {
      const username = uniqueName('audited');
      const res = await call('POST', '/auth/register', {}, { username, password: 'correct horse battery' });
      state.bobName = username;
      state.bobId = res.json<{ user_id: string }>().user_id;
      return [res, rowOf('auth.register', state.bobId, 'user', state.bobId)];
    },
    'POST /api/v1/auth/login': async () => {
      const res = await call(
        'POST',
        '/auth/login',
        {},
        { username: state.bobName, password: 'correct horse battery' },
      );
      state.bobRefresh = res.json<{ refresh_token: string }>().refresh_token;
      return [res, { action: 'auth.login', userId: state.bobId }];
    },
    'POST /api/v1/auth/refresh': async () => {
      const res = await call('POST', '/auth/refresh', {}, { refresh_token: state.bobRefresh });
      state.bobRefresh = res.json<{ refresh_token: string }>().refresh_token;
      return [res, rowOf('auth.refresh', state.bobId, 'refresh_token_family')];
    },
    'POST /api/v1/auth/logout': async () => {
      const res = await call('POST', '/auth/logout', {}, { refresh_token: state.bobRefresh });
      return [res, rowOf('auth.logout', state.bobId, 'refresh_token_family')];
    },
    'POST /api/v1/auth/logout-all': async () => {
      const tokens = await login(ctx.app, state.bobName);
      const res = await call('POST', '/auth/logout-all', bearer(tokens.access_token));
      return [res, { action: 'auth.logout_all', userId: state.bobId }];
    },
    'POST /api/v1/auth/password': async () => {
      const tokens = await login(ctx.app, state.bobName);
      const res = await call('POST', '/auth/password', bearer(tokens.access_token), {
        current_password: 'correct horse battery',
        new_password: 'a longer passphrase',
      });
      return [res, rowOf('auth.password_changed', state.bobId, 'user', state.bobId)];
    },
    'POST /api/v1/api-keys': async () => {
      const res = await call('POST', '/api-keys', bearer(alice.accessToken), {
        name: 'audited',
        scopes: ['tasks:read'],
      });
      state.keyId = res.json<{ key_id: string }>().key_id;
      return [res, rowOf('api_key.created', alice.userId, 'api_key', state.keyId)];
    },
    'POST /api/v1/api-keys/{key_id}/rotate': async () => {
      const rotated = state.keyId;
      const res = await call('POST', `/api-keys/${rotated}/rotate`, bearer(alice.accessToken), {});
      state.keyId = res.json<{ key_id: string }>().key_id;
      return [res, rowOf('api_key.rotated', alice.userId, 'api_key', rotated)];
    },
    'DELETE /api/v1/api-keys/{key_id}': async () => {
      const res = await call('DELETE', `/api-keys/${state.keyId}`, bearer(alice.accessToken));
      return [res, rowOf('api_key.revoked', alice.userId, 'api_key', state.keyId)];
    },
    'POST /api/v1/modules': async () => {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/modules',
        headers: { ...apiKeyHeader(alice.apiKey), 'content-type': 'application/wasm' },
        payload: uniqueFixture('echo'),
      });
      state.moduleId = res.json<{ module_id: string }>().module_id;
      return [res, rowOf('module.uploaded', alice.userId, 'module', state.moduleId)];
    },
    'DELETE /api/v1/modules/{module_id}': async () => {
      const res = await call('DELETE', `/modules/${state.moduleId}`, apiKeyHeader(alice.apiKey));
      return [res, rowOf('module.deleted', alice.userId, 'module', state.moduleId)];
    },
    'POST /api/v1/tasks': async () => {
      const res = await call('POST', '/tasks', apiKeyHeader(alice.apiKey), {
        task_type: 'computation',
        inputs: { numbers: [1, 2, 3], operation: 'sum' },
        requirements: { min_nodes: 1, max_execution_time_sec: 60 },
      });
      state.taskId = res.json<{ task_id: string }>().task_id;
      return [res, rowOf('task.submitted', alice.userId, 'task', state.taskId)];
    },
    'POST /api/v1/tasks/{task_id}/cancel': async () => {
      const res = await call('POST', `/tasks/${state.taskId}/cancel`, apiKeyHeader(alice.apiKey));
      return [res, rowOf('task.cancelled', alice.userId, 'task', state.taskId)];
    },
    'DELETE /api/v1/tasks/{task_id}': async () => {
      const res = await call('DELETE', `/tasks/${state.taskId}`, apiKeyHeader(alice.apiKey));
      return [res, rowOf('task.deleted', alice.userId, 'task', state.taskId)];
    },
    'POST /api/v1/nodes': async () => {
      const node = {
        node_id: `audited-${state.taskId.slice(0, 8)}`,
        region: 'us-west',
        node_type: 'compute',
      };
      const res = await call('POST', '/nodes', bearer(alice.accessToken), {
        ...node,
        capabilities: { bandwidth_mbps: 1, cpu_cores: 1, memory_gb: 1, gpu_available: false },
      });
      state.nodeId = res.json<{ node_id: string }>().node_id;
      return [res, rowOf('node.registered', alice.userId, 'node', state.nodeId)];
    },
    'POST /api/v1/nodes/{node_id}/keys': async () => {
      const res = await call('POST', `/nodes/${state.nodeId}/keys`, bearer(alice.accessToken), {});
      return [res, rowOf('node.key_rotated', alice.userId, 'node', state.nodeId)];
    },
    'POST /api/v1/nodes/{node_id}/reject': async () => {
      const res = await call('POST', `/nodes/${state.nodeId}/reject`, admin(), {});
      return [res, rowOf('node.rejected', ctx.admin.userId, 'node', state.nodeId)];
    },
    'POST /api/v1/nodes/{node_id}/reinstate': async () => {
      const res = await call('POST', `/nodes/${state.nodeId}/reinstate`, admin());
      return [res, rowOf('node.reinstated', ctx.admin.userId, 'node', state.nodeId)];
    },
    'DELETE /api/v1/nodes/{node_id}': async () => {
      const res = await call('DELETE', `/nodes/${state.nodeId}`, bearer(alice.accessToken));
      return [res, rowOf('node.deleted', alice.userId, 'node', state.nodeId)];
    },
    'POST /api/v1/admin/circuits': async () => {
      const res = await call(
        'POST',
        '/admin/circuits',
        admin(),
        circuitPayload('multiplier', 'groth16', { wasm: true, zkey: true }),
      );
      state.circuitId = res.json<{ circuit_id: string }>().circuit_id;
      return [res, rowOf('circuit.registered', ctx.admin.userId, 'circuit', state.circuitId)];
    },
    'DELETE /api/v1/admin/circuits/{circuit_id}': async () => {
      // A task names the circuit, so the delete retires it (and the restore below has something to restore).
      expect((await postZkTask(ctx.app, apiKeyHeader(alice.apiKey), state.circuitId)).statusCode).toBe(201);
      const res = await call('DELETE', `/admin/circuits/${state.circuitId}`, admin());
      return [res, rowOf('circuit.retired', ctx.admin.userId, 'circuit', state.circuitId)];
    },
    'POST /api/v1/admin/circuits/{circuit_id}/restore': async () => {
      const res = await call('POST', `/admin/circuits/${state.circuitId}/restore`, admin());
      return [res, rowOf('circuit.restored', ctx.admin.userId, 'circuit', state.circuitId)];
    },
    'POST /api/v1/admin/users': async () => {
      const res = await call('POST', '/admin/users', admin(), {
        username: uniqueName('made'),
        password: 'correct horse battery',
      });
      return [
        res,
        rowOf('admin.user_created', ctx.admin.userId, 'user', res.json<{ user_id: string }>().user_id),
      ];
    },
    'PATCH /api/v1/admin/users/{id}': async () => {
      const res = await call('PATCH', `/admin/users/${state.bobId}`, admin(), { disabled: true });
      return [res, rowOf('admin.user_disabled', ctx.admin.userId, 'user', state.bobId)];
    },
    'POST /api/v1/admin/throttle-overrides': async () => {
      const res = await call('POST', '/admin/throttle-overrides', admin(), {
        subject_type: 'user',
        subject_id: alice.userId,
        rpm: 1000,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      });
      state.overrideId = res.json<{ override_id: string }>().override_id;
      return [
        res,
        rowOf('admin.throttle_override_created', ctx.admin.userId, 'throttle_override', state.overrideId),
      ];
    },
    'DELETE /api/v1/admin/throttle-overrides/{id}': async () => {
      const res = await call('DELETE', `/admin/throttle-overrides/${state.overrideId}`, admin());
      return [
        res,
        rowOf('admin.throttle_override_deleted', ctx.admin.userId, 'throttle_override', state.overrideId),
      ];
    },
  };

  it('lists every mutating operation of the document as audited or exempt, and exempts only real ones', () => {
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods)
        .filter((method) => MUTATING.includes(method))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.length).toBeGreaterThan(20);
    const audited = new Set(Object.keys(steps));
    const neither = operations.filter((op) => !audited.has(op) && !(op in EXEMPT));
    expect({ neither_audited_nor_exempt: neither }).toEqual({ neither_audited_nor_exempt: [] });
    const gone = [...audited, ...Object.keys(EXEMPT)].filter((op) => !operations.includes(op));
    expect({ no_longer_in_the_document: gone }).toEqual({ no_longer_in_the_document: [] });
    const both = Object.keys(EXEMPT).filter((op) => audited.has(op));
    expect({ both_audited_and_exempt: both }).toEqual({ both_audited_and_exempt: [] });
  });

  it('performs each audited operation once and finds its row: action, actor, resource and request id', async () => {
    for (const [op, step] of Object.entries(steps)) perform(op, ...(await step()));
    const missing: unknown[] = [];
    for (const [op, { res, expected }] of performed) {
      const requestId = res.headers['x-request-id'];
      expect(typeof requestId).toBe('string');
      const page = await call('GET', `/admin/audit-log?action=${expected.action}&limit=100`, admin());
      expect(page.statusCode).toBe(200);
      const rows = page.json<{ items: AuditRow[] }>().items.filter((row) => row.request_id === requestId);
      const row = rows[0];
      const found = row && {
        action: row.action,
        userId: row.user_id,
        ...(expected.resourceType !== undefined ? { resourceType: row.resource_type } : {}),
        ...(expected.resourceId !== undefined ? { resourceId: row.resource_id } : {}),
        apiKeyId: row.metadata?.api_key_id ?? null,
      };
      if (!row || !isDeepStrictEqual(found, expected) || row.status !== 'success') {
        missing.push({ op, expected, rows_with_this_request_id: rows });
      }
    }
    expect(missing).toEqual([]);
  });

  it('a task that brings its module inline records the upload too, under the submission’s request id', async () => {
    const bytes = uniqueFixture('echo');
    const res = await call('POST', '/tasks', apiKeyHeader(alice.apiKey), {
      task_type: 'wasm_execution',
      wasm_module: bytes.toString('base64'),
      inputs: {},
      requirements: { min_nodes: 1, max_execution_time_sec: 60 },
    });
    expect(res.statusCode).toBe(201);
    const page = await call('GET', '/admin/audit-log?action=module.uploaded&limit=100', admin());
    const rows = page
      .json<{ items: AuditRow[] }>()
      .items.filter((row) => row.request_id === res.headers['x-request-id']);
    expect(rows).toEqual([
      expect.objectContaining({
        user_id: alice.userId,
        resource_type: 'module',
        resource_id: sha256(bytes),
        metadata: {
          api_key_id: aliceKeyId,
          size_bytes: bytes.length,
          stored: true,
          newly_owned: true,
          via: 'task',
        },
      }),
    ]);
  });

  it('an admin cancelling and deleting a user’s task: the rows name the admin as actor and the task’s owner', async () => {
    const created = await call('POST', '/tasks', apiKeyHeader(alice.apiKey), {
      task_type: 'computation',
      inputs: { numbers: [1, 2], operation: 'sum' },
      requirements: { min_nodes: 1, max_execution_time_sec: 60 },
    });
    expect(created.statusCode).toBe(201);
    const taskId = created.json<{ task_id: string }>().task_id;
    const cancel = await call('POST', `/tasks/${taskId}/cancel`, admin());
    const remove = await call('DELETE', `/tasks/${taskId}`, admin());
    for (const [res, action] of [
      [cancel, 'task.cancelled'],
      [remove, 'task.deleted'],
    ] as const) {
      expect(res.statusCode).toBe(200);
      const page = await call('GET', `/admin/audit-log?action=${action}&limit=100`, admin());
      const rows = page
        .json<{ items: AuditRow[] }>()
        .items.filter((row) => row.request_id === res.headers['x-request-id']);
      expect(rows).toEqual([
        expect.objectContaining({
          user_id: ctx.admin.userId,
          resource_id: taskId,
          metadata: expect.objectContaining({ owner_id: alice.userId }),
        }),
      ]);
    }
  });
});
