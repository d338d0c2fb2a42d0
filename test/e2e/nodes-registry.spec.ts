import { useTestApp } from '../support/app';
import { apiKeyHeader, bearer, login, newSession, Session } from '../support/auth';
import { heartbeat, ORIGINAL_NODE, registerNode, uniqueNodeId } from '../support/nodes';

const ADMIN = { username: 'nodes_admin', password: 'admin password 123' };
const KEY = /^vcp_[0-9A-Za-z]{46}$/;

describe('node registry', () => {
  const ctx = useTestApp({ env: { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password } });
  let owner: Session;
  let adminToken: string;

  beforeAll(async () => {
    owner = await newSession(ctx.app, 'nodeowner');
    adminToken = (await login(ctx.app, ADMIN.username, ADMIN.password)).access_token;
  });

  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, headers: object, payload?: object) =>
    ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: headers as never,
      ...(payload ? { payload } : {}),
    });

  it('accepts the original demo body unchanged: NodeInfo + a node key, a neutral score, online', async () => {
    const res = await call('POST', '/nodes', apiKeyHeader(owner.apiKey), ORIGINAL_NODE);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      node_id: 'node-001',
      owner_id: owner.userId,
      region: 'us-west',
      node_type: 'compute',
      capabilities: { bandwidth_mbps: 150, cpu_cores: 8, memory_gb: 16, gpu_available: true },
      health_score: 50,
      status: 'online',
      registered_at: expect.any(String),
      last_seen: expect.any(String),
      last_heartbeat: expect.any(String),
      public_key: null,
      labels: {},
      // Issue 18: a new node's record — nothing compared yet, so no score.
      reputation: {
        valid: 0,
        invalid: 0,
        error: 0,
        lost: 0,
        valid_streak: 0,
        score: null,
        quarantined: false,
        quarantined_at: null,
        quarantine_reason: null,
      },
      node_api_key: expect.stringMatching(KEY),
    });
    // The node key is not one of the owner's keys: not listed, not counted.
    const keys = await call('GET', '/api-keys', bearer(owner.accessToken));
    expect(keys.json<{ key_prefix: string }[]>().map((k) => k.key_prefix)).not.toContain(
      res.json<{ node_api_key: string }>().node_api_key.slice(0, 12),
    );
  });

  const VALID = () => ({ ...ORIGINAL_NODE, node_id: uniqueNodeId() });
  const caps = (over: object) => ({ capabilities: { ...ORIGINAL_NODE.capabilities, ...over } });
  it.each([
    ['node_id', { node_id: '' }],
    ['node_id', { node_id: 'x'.repeat(65) }],
    ['node_id', { node_id: 'nœud-1' }],
    ['node_id', { node_id: 'has space' }],
    ['region', { region: '' }],
    ['region', { region: 'r'.repeat(33) }],
    ['region', { region: 'us\nwest' }],
    ['node_type', { node_type: 'supercomputer' }],
    ['capabilities', { capabilities: undefined }],
    ['capabilities.bandwidth_mbps', caps({ bandwidth_mbps: -1 })],
    ['capabilities.bandwidth_mbps', caps({ bandwidth_mbps: 100001 })],
    ['capabilities.cpu_cores', caps({ cpu_cores: 0 })],
    ['capabilities.cpu_cores', caps({ cpu_cores: 1025 })],
    ['capabilities.cpu_cores', caps({ cpu_cores: 2.5 })],
    ['capabilities.memory_gb', caps({ memory_gb: 0.05 })],
    ['capabilities.memory_gb', caps({ memory_gb: 10001 })],
    ['capabilities.gpu_available', caps({ gpu_available: 'yes' })],
    ['capabilities.extra', caps({ extra: 1 })],
    ['public_key', { public_key: 'AAAA' }],
    // The identity point: any R = identity, S = 0 signature verifies with it (a weak key).
    ['public_key', { public_key: `AQ${'A'.repeat(41)}=` }],
    ['labels', { labels: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }],
    ['labels', { labels: { 'bad key!': 'v' } }],
    ['labels', { labels: { zone: 'v'.repeat(129) } }],
    ['labels', { labels: { zone: 7 } }],
    ['unknown', { unknown: true }],
  ])('refuses an invalid %s with 422 naming it', async (field, change) => {
    const res = await call('POST', '/nodes', apiKeyHeader(owner.apiKey), { ...VALID(), ...change });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toBe('validation_error');
    expect(res.json<{ details: { field: string }[] }>().details.map((d) => d.field)).toContain(field);
  });

  it('takes optional fields sent as null as left out: registration and heartbeat (generated clients send them)', async () => {
    const nodeId = `nulls-${Date.now()}`;
    const res = await call('POST', '/nodes', apiKeyHeader(owner.apiKey), {
      ...ORIGINAL_NODE,
      node_id: nodeId,
      public_key: null,
      labels: null,
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ node_id: nodeId, public_key: null, labels: {} });
    const nodeKey = res.json().node_api_key as string;
    const full = { cpu_usage: 20, memory_usage: 40, network_latency_ms: 50 };
    const scored = await call('PUT', `/nodes/${nodeId}/heartbeat`, apiKeyHeader(nodeKey), full);
    expect(scored.statusCode).toBe(200);
    // Nulls report nothing: the score stays what the last telemetry made it, as after an empty heartbeat.
    const nulls = { cpu_usage: null, memory_usage: null, network_latency_ms: null };
    const kept = await call('PUT', `/nodes/${nodeId}/heartbeat`, apiKeyHeader(nodeKey), nulls);
    expect(kept.statusCode).toBe(200);
    expect(kept.json().health_score).toBe(scored.json().health_score);
  });

  it('keeps labels and normalises an Ed25519 key; a live id is 409, an owner may revive a deleted one', async () => {
    const other = await newSession(ctx.app, 'other');
    const raw = Buffer.alloc(32, 7).toString('base64');
    const node = await registerNode(ctx.app, bearer(owner.accessToken), {
      labels: { zone: 'a', 'rack/row': '12' },
      public_key: raw,
    });
    const got = await call('GET', `/nodes/${node.node_id}`, bearer(owner.accessToken));
    expect(got.json()).toMatchObject({ labels: { zone: 'a', 'rack/row': '12' }, public_key: raw });

    const body = { ...ORIGINAL_NODE, node_id: node.node_id };
    expect((await call('POST', '/nodes', bearer(owner.accessToken), body)).statusCode).toBe(409);
    expect((await call('POST', '/nodes', bearer(other.accessToken), body)).statusCode).toBe(409);
    expect((await call('DELETE', `/nodes/${node.node_id}`, bearer(owner.accessToken))).json()).toEqual({
      message: 'Node deleted successfully',
      node_id: node.node_id,
    });
    expect((await call('POST', '/nodes', bearer(other.accessToken), body)).statusCode).toBe(409);
    const revived = await call('POST', '/nodes', bearer(owner.accessToken), { ...body, region: 'eu-north' });
    expect(revived.statusCode).toBe(201);
    expect(revived.json()).toMatchObject({
      region: 'eu-north',
      status: 'online',
      labels: {},
      public_key: null,
    });
    // The revived node has a new key; the old one was revoked with the deletion.
    expect((await heartbeat(ctx.app, node.node_id, apiKeyHeader(node.node_api_key))).statusCode).toBe(401);
    const fresh = revived.json<{ node_api_key: string }>().node_api_key;
    expect((await heartbeat(ctx.app, node.node_id, apiKeyHeader(fresh))).statusCode).toBe(200);
  });

  it('rotates the node key: with grace both work, without grace only the new one; owner only', async () => {
    const node = await registerNode(ctx.app, bearer(owner.accessToken));
    const rotate = (grace: number, headers: object = bearer(owner.accessToken)) =>
      call('POST', `/nodes/${node.node_id}/keys`, headers, { grace_seconds: grace });
    const graceful = await rotate(3600);
    expect(graceful.statusCode).toBe(201);
    expect(graceful.json()).toEqual({
      node_id: node.node_id,
      key_id: expect.any(String),
      key_prefix: expect.any(String),
      node_api_key: expect.stringMatching(KEY),
      created_at: expect.any(String),
      previous_key_expires_at: expect.any(String),
    });
    const second = graceful.json<{ node_api_key: string }>().node_api_key;
    expect((await heartbeat(ctx.app, node.node_id, apiKeyHeader(node.node_api_key))).statusCode).toBe(200);
    expect((await heartbeat(ctx.app, node.node_id, apiKeyHeader(second))).statusCode).toBe(200);

    const abrupt = await rotate(0);
    expect(abrupt.json().previous_key_expires_at).toBeNull();
    for (const old of [node.node_api_key, second]) {
      expect((await heartbeat(ctx.app, node.node_id, apiKeyHeader(old))).statusCode).toBe(401);
    }
    expect(
      (await heartbeat(ctx.app, node.node_id, apiKeyHeader(abrupt.json().node_api_key))).statusCode,
    ).toBe(200);
    // The node's own key cannot mint keys; another user sees no such node.
    expect((await rotate(0, apiKeyHeader(abrupt.json().node_api_key))).statusCode).toBe(403);
    const stranger = await newSession(ctx.app, 'stranger');
    expect((await rotate(0, bearer(stranger.accessToken))).statusCode).toBe(404);
  });

  it('reject revokes the keys and stops heartbeats; an admin reinstates; the owner re-keys and it comes back', async () => {
    const node = await registerNode(ctx.app, bearer(owner.accessToken));
    const rejected = await call('POST', `/nodes/${node.node_id}/reject`, bearer(owner.accessToken));
    expect(rejected.statusCode).toBe(200);
    expect(rejected.json().status).toBe('rejected');
    expect((await heartbeat(ctx.app, node.node_id, apiKeyHeader(node.node_api_key))).statusCode).toBe(401);
    expect((await heartbeat(ctx.app, node.node_id, bearer(owner.accessToken))).statusCode).toBe(409);
    expect(
      (await call('POST', `/nodes/${node.node_id}/keys`, bearer(owner.accessToken), {})).statusCode,
    ).toBe(409);
    expect(
      (await call('POST', `/nodes/${node.node_id}/reinstate`, bearer(owner.accessToken))).statusCode,
    ).toBe(403);

    const reinstated = await call('POST', `/nodes/${node.node_id}/reinstate`, bearer(adminToken));
    expect(reinstated.statusCode).toBe(200);
    expect(reinstated.json().status).toBe('offline');
    const key = (await call('POST', `/nodes/${node.node_id}/keys`, bearer(owner.accessToken), {})).json();
    const beat = await heartbeat(ctx.app, node.node_id, apiKeyHeader(key.node_api_key));
    expect(beat.json()).toMatchObject({ node_status: 'online' });

    const audit = await call('GET', `/admin/audit-log?limit=100`, bearer(adminToken));
    const actions = audit
      .json<{ items: { action: string; resource_id: string | null }[] }>()
      .items.filter((row) => row.resource_id === node.node_id)
      .map((row) => row.action);
    expect(actions.sort()).toEqual([
      'node.key_rotated',
      'node.registered',
      'node.reinstated',
      'node.rejected',
    ]);
  });

  it('reinstating a node both quarantined and rejected audits both lifts', async () => {
    const node = await registerNode(ctx.app, bearer(owner.accessToken));
    // Quarantined by its results (verified-results.spec makes one for real), then rejected by its owner.
    await ctx.dataSource.query(
      `UPDATE nodes SET quarantined_at = now(), quarantine_reason = 'outvoted' WHERE node_id = $1`,
      [node.node_id],
    );
    expect((await call('POST', `/nodes/${node.node_id}/reject`, bearer(owner.accessToken))).statusCode).toBe(
      200,
    );
    const reinstated = await call('POST', `/nodes/${node.node_id}/reinstate`, bearer(adminToken));
    expect(reinstated.statusCode).toBe(200);
    expect(reinstated.json()).toMatchObject({ status: 'offline', reputation: { quarantined: false } });
    const rows: { action: string }[] = await ctx.dataSource.query(
      `SELECT action FROM audit_log
        WHERE resource_id = $1 AND action IN ('node.reinstated', 'node.quarantine_lifted') ORDER BY action`,
      [node.node_id],
    );
    expect(rows.map((row) => row.action)).toEqual(['node.quarantine_lifted', 'node.reinstated']);
  });

  it('a user cannot put nodes:agent on a key of their own (422)', async () => {
    const res = await call('POST', '/api-keys', bearer(adminToken), {
      name: 'agent',
      scopes: ['nodes:agent'],
    });
    expect(res.statusCode).toBe(422);
  });
});
