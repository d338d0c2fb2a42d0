import { TEST_ADMIN, useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import {
  FixtureCircuit,
  FixtureProtocol,
  postFixtureProof,
  postZkTask,
  registerCircuit,
} from '../support/zk';

/**
 * `POST /admin/circuits/:circuit_id/restore`: a retired circuit is active again (new tasks and proofs
 * accepted); an active one is returned unchanged; a deleted or unknown one is a 404. Each test takes circuits
 * no other test retires (fixtures: 5 keys).
 */
describeEachDatabase('circuit restore on %s', (database) => {
  const ctx = useAdminApp({ database, env: { PROOF_WORKERS: '1', SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let admin: Record<string, string>;
  let alice: Session;

  beforeAll(async () => {
    admin = bearer(ctx.admin.accessToken);
    alice = await newSession(ctx.app, 'alice');
  });
  afterAll(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  const register = async (circuit: FixtureCircuit, protocol: FixtureProtocol): Promise<string> => {
    return registerCircuit(ctx.app, admin, circuit, protocol);
  };
  const remove = (circuitId: string) =>
    ctx.app.inject({ method: 'DELETE', url: `/api/v1/admin/circuits/${circuitId}`, headers: admin });
  const restore = (circuitId: string, headers = admin) =>
    ctx.app.inject({ method: 'POST', url: `/api/v1/admin/circuits/${circuitId}/restore`, headers });
  const circuit = async (circuitId: string) =>
    (
      await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/circuits/${circuitId}`,
        headers: bearer(alice.accessToken),
      })
    ).json<Record<string, unknown>>();
  const zkTask = (circuitId: string, circuit: FixtureCircuit) =>
    postZkTask(ctx.app, bearer(alice.accessToken), circuitId, circuit);
  const verify = (circuitId: string, circuit: FixtureCircuit, protocol: FixtureProtocol) =>
    postFixtureProof(ctx.app, bearer(alice.accessToken), circuitId, circuit, protocol);
  const restoredRows = (circuitId: string) =>
    ctx.dataSource.query(
      `SELECT a.status, a.request_id, a.metadata, u.username FROM audit_log a
         LEFT JOIN users u ON u.user_id = a.user_id
        WHERE a.action = 'circuit.restored' AND a.resource_type = 'circuit' AND a.resource_id = $1
        ORDER BY a.created_at`,
      [circuitId],
    );

  it('brings a retired circuit back: new tasks and proofs are accepted again; audited circuit.restored', async () => {
    const circuitId = await register('multiplier', 'groth16');
    expect((await zkTask(circuitId, 'multiplier')).statusCode).toBe(201);
    const retired = (await remove(circuitId)).json<{ outcome: string; retired_at: string }>();
    expect(retired.outcome).toBe('retired');
    // Refused while retired: this replica now holds the circuit cached as retired.
    for (const refused of [
      await zkTask(circuitId, 'multiplier'),
      await verify(circuitId, 'multiplier', 'groth16'),
    ]) {
      expect([refused.statusCode, refused.json().reason]).toEqual([409, 'circuit_retired']);
    }

    const res = await restore(circuitId);
    expect(res.statusCode).toBe(200);
    const before = await circuit(circuitId);
    expect(res.json()).toEqual(before);
    expect(before).toMatchObject({ circuit_id: circuitId, retired_at: null });
    const active = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/circuits?limit=100&retired=false',
      headers: bearer(alice.accessToken),
    });
    expect(active.json<{ items: { circuit_id: string }[] }>().items.map((c) => c.circuit_id)).toContain(
      circuitId,
    );
    expect((await zkTask(circuitId, 'multiplier')).statusCode).toBe(201);
    const verified = await verify(circuitId, 'multiplier', 'groth16');
    expect([verified.statusCode, verified.json().valid]).toEqual([200, true]);
    expect(await restoredRows(circuitId)).toEqual([
      {
        status: 'success',
        request_id: res.headers['x-request-id'],
        username: TEST_ADMIN.username,
        metadata: { name: 'multiplier groth16', already_active: false, retired_at: retired.retired_at },
      },
    ]);

    // Retired again later: a new retirement, not the first one's time.
    const again = await remove(circuitId);
    expect(again.json()).toMatchObject({ outcome: 'retired', already_retired: false, unfinished_tasks: 2 });
    expect(again.json().retired_at).not.toBe(retired.retired_at);
  });

  it('answers an active circuit unchanged (200), audited with already_active', async () => {
    const circuitId = await register('multiplier', 'plonk');
    const before = await circuit(circuitId);
    for (let call = 0; call < 2; call++) {
      const res = await restore(circuitId);
      expect([res.statusCode, res.json()]).toEqual([200, before]);
    }
    expect(await circuit(circuitId)).toEqual(before);
    const rows = await restoredRows(circuitId);
    expect(rows.map((row: { metadata: unknown }) => row.metadata)).toEqual([
      { name: 'multiplier plonk', already_active: true, retired_at: null },
      { name: 'multiplier plonk', already_active: true, retired_at: null },
    ]);
  });

  // Restoring brings back a key that decides which proofs count: the same role and scope as retiring it.
  it('takes the admin role and admin:circuits (403, it stays retired); unknown, malformed or deleted ids are 404', async () => {
    const circuitId = await register('poseidon_preimage', 'groth16');
    expect((await zkTask(circuitId, 'poseidon_preimage')).statusCode).toBe(201);
    const { retired_at } = (await remove(circuitId)).json<{ retired_at: string }>();
    const narrowKey = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: admin,
      payload: { name: 'audit only', scopes: ['admin:audit'] },
    });
    for (const headers of [bearer(alice.accessToken), apiKeyHeader(narrowKey.json().api_key)]) {
      const refused = await restore(circuitId, headers);
      expect([refused.statusCode, refused.json().error]).toEqual([403, 'forbidden']);
    }
    expect(await circuit(circuitId)).toMatchObject({ retired_at });
    expect(await restoredRows(circuitId)).toEqual([]);

    for (const id of ['ab'.repeat(32), 'not-a-hash', 'AB'.repeat(32)]) {
      const res = await restore(id);
      expect([res.statusCode, res.json()]).toEqual([
        404,
        { error: 'not_found', message: 'Circuit not found', request_id: expect.any(String) },
      ]);
    }
    const unreferenced = await register('poseidon_preimage', 'plonk');
    expect((await remove(unreferenced)).json()).toMatchObject({ outcome: 'deleted' });
    expect((await restore(unreferenced)).statusCode).toBe(404);
    expect(await restoredRows(unreferenced)).toEqual([]);
  });
});
