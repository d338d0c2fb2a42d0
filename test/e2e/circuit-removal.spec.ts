import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { VerifierPool } from '../../src/proofs/verifier-pool';
import { TEST_ADMIN, useAdminApp } from '../support/admin';
import { LeasedRun, TestAgent } from '../support/agent';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { CIRCUIT_BLOBS, storedBytes, storedFile } from '../support/content';
import { describeEachDatabase } from '../support/databases';
import { getTask, postTask, ORIGINAL_TASK } from '../support/tasks';
import { circuitPayload, FixtureCircuit, FixtureProtocol, postFixtureProof, zkFixture } from '../support/zk';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * `DELETE /admin/circuits/:circuit_id`: a circuit nothing references is deleted with its files; one that tasks
 * or proofs reference is retired (readable, its unfinished tasks run to the end, new tasks and proofs 409).
 * Each test takes circuits no other test deletes or retires (fixtures: 5 keys, 2 witness generators).
 */
describeEachDatabase('circuit removal on %s', (database) => {
  const ctx = useAdminApp({
    database,
    env: { PROOF_WORKERS: '1', TASK_RETRY_BASE_MS: '0', SCHEDULER_SWEEP_INTERVAL_SECS: '3600' },
  });
  let admin: Record<string, string>;
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    admin = bearer(ctx.admin.accessToken);
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });
  afterAll(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  const register = async (
    circuit: FixtureCircuit,
    protocol: FixtureProtocol,
    uploads: { wasm?: boolean; zkey?: boolean } = {},
  ): Promise<string> => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/circuits',
      headers: admin,
      payload: circuitPayload(circuit, protocol, uploads),
    });
    expect(res.statusCode).toBeLessThan(300);
    return res.json<{ circuit_id: string }>().circuit_id;
  };
  const remove = (circuitId: string, headers = admin) =>
    ctx.app.inject({ method: 'DELETE', url: `/api/v1/admin/circuits/${circuitId}`, headers });
  const get = (url: string, headers: Record<string, string> = bearer(alice.accessToken)) =>
    ctx.app.inject({ method: 'GET', url: `/api/v1${url}`, headers });
  const verify = (
    circuitId: string,
    protocol: FixtureProtocol,
    circuit: FixtureCircuit = 'multiplier',
    patch: Record<string, unknown> = {},
  ) => postFixtureProof(ctx.app, bearer(alice.accessToken), circuitId, circuit, protocol, patch);
  const zkTask = (circuitId: string) =>
    postTask(ctx.app, bearer(alice.accessToken), {
      ...ORIGINAL_TASK,
      task_type: 'zk_proof',
      circuit_id: circuitId,
      inputs: { public_signals: ['33', '11'], witness: { a: '3', b: '11' } },
    });
  const auditRows = (action: string, circuitId: string) =>
    ctx.dataSource.query(
      `SELECT a.status, a.request_id, a.metadata, u.username FROM audit_log a
         LEFT JOIN users u ON u.user_id = a.user_id
        WHERE a.action = $1 AND a.resource_type = 'circuit' AND a.resource_id = $2 ORDER BY a.created_at`,
      [action, circuitId],
    );
  const stored = (sha: string) => storedBytes(ctx.dataSource, ctx.env.config, CIRCUIT_BLOBS, sha);

  it('deletes a circuit nothing references, with its wasm and zkey; again is a 404; audited circuit.deleted', async () => {
    const f = zkFixture('poseidon_preimage', 'plonk');
    const circuitId = await register('poseidon_preimage', 'plonk', { wasm: true, zkey: true });
    const files = [sha256(f.wasm), sha256(f.zkey)];
    for (const sha of files) expect(await stored(sha)).not.toBeNull();
    expect((await get(`/circuits/${circuitId}/zkey`)).statusCode).toBe(200);
    // On PostgreSQL the replica's cached copy must go too, or it would outlive the rows.
    const cached = storedFile(ctx.dataSource, ctx.env.config, CIRCUIT_BLOBS, files[1]);
    expect(existsSync(cached)).toBe(true);

    const res = await remove(circuitId);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      circuit_id: circuitId,
      outcome: 'deleted',
      retired_at: null,
      already_retired: false,
      unfinished_tasks: 0,
    });
    expect((await get(`/circuits/${circuitId}`)).statusCode).toBe(404);
    expect((await get(`/circuits/${circuitId}/wasm`)).statusCode).toBe(404);
    for (const sha of files) expect(await stored(sha)).toBeNull();
    expect(existsSync(cached)).toBe(false);
    const listed = (await get('/circuits?limit=100')).json<{ items: { circuit_id: string }[] }>().items;
    expect(listed.map((c) => c.circuit_id)).not.toContain(circuitId);

    const again = await remove(circuitId);
    expect(again.statusCode).toBe(404);
    expect(again.json()).toMatchObject({ error: 'not_found' });
    expect(await auditRows('circuit.deleted', circuitId)).toEqual([
      {
        status: 'success',
        request_id: res.headers['x-request-id'],
        username: TEST_ADMIN.username,
        metadata: expect.objectContaining({
          artifacts_deleted: ['wasm', 'zkey'],
          was_retired: false,
          wasm_sha256: files[0],
        }),
      },
    ]);
    // Gone for good, not hidden: the same key registers anew.
    const registered = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/circuits',
      headers: admin,
      payload: circuitPayload('poseidon_preimage', 'plonk'),
    });
    expect(registered.statusCode).toBe(201);
    expect(registered.json()).toMatchObject({ circuit_id: circuitId, retired_at: null, wasm_sha256: null });
  });

  it('keeps a file another circuit still uses: one witness generator, two setups', async () => {
    const f = zkFixture('multiplier', 'fflonk');
    const keeper = await register('multiplier', 'plonk', { wasm: true });
    const circuitId = await register('multiplier', 'fflonk', { wasm: true, zkey: true });
    // A malformed proof is refused (stored nothing, so nothing references the circuit) after this replica
    // cached the circuit: the cache must not keep it verifying after the delete.
    expect((await verify(circuitId, 'fflonk', 'multiplier', { public_signals: ['33'] })).statusCode).toBe(
      422,
    );
    const res = await remove(circuitId);
    expect(res.json()).toMatchObject({ outcome: 'deleted' });
    const afterDelete = await verify(circuitId, 'fflonk');
    expect(afterDelete.statusCode).toBe(404);
    expect(afterDelete.json()).toMatchObject({ error: 'not_found', message: 'Circuit not found' });
    const [row] = await auditRows('circuit.deleted', circuitId);
    expect(row.metadata.artifacts_deleted).toEqual(['zkey']);
    expect(await stored(sha256(f.zkey))).toBeNull();
    expect(await stored(sha256(f.wasm))).not.toBeNull();
    const wasm = await get(`/circuits/${keeper}/wasm`);
    expect(wasm.statusCode).toBe(200);
    expect(sha256(wasm.rawPayload)).toBe(sha256(f.wasm));
  });

  it('retires a circuit tasks reference: readable, runs in flight download and finish, new tasks and proofs 409', async () => {
    const circuitId = await register('multiplier', 'groth16', { wasm: true, zkey: true });
    const inFlight = await zkTask(circuitId);
    const queued = await zkTask(circuitId);
    expect([inFlight.statusCode, queued.statusCode]).toEqual([201, 201]);
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await agent.claim({ max: 1, wait_ms: 0 });
    expect(run.task_id).toBe(inFlight.json().task_id);

    const res = await remove(circuitId);
    expect(res.statusCode).toBe(200);
    const retirement = res.json();
    expect(retirement).toEqual({
      circuit_id: circuitId,
      outcome: 'retired',
      retired_at: expect.any(String),
      already_retired: false,
      unfinished_tasks: 2,
    });

    // Readable, and listed with retired_at; the filter tells retired from active.
    const circuit = await get(`/circuits/${circuitId}`);
    expect(circuit.statusCode).toBe(200);
    expect(circuit.json()).toMatchObject({ circuit_id: circuitId, retired_at: retirement.retired_at });
    const ids = async (query: string) =>
      (await get(`/circuits?limit=100${query}`))
        .json<{ items: { circuit_id: string }[] }>()
        .items.map((c) => c.circuit_id);
    expect(await ids('')).toContain(circuitId);
    expect(await ids('&retired=true')).toContain(circuitId);
    expect(await ids('&retired=false')).not.toContain(circuitId);
    expect((await get('/circuits?retired=yes')).statusCode).toBe(422);
    // Registering its key again finds it, and leaves it retired.
    const reregistered = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/circuits',
      headers: admin,
      payload: circuitPayload('multiplier', 'groth16'),
    });
    expect(reregistered.statusCode).toBe(200);
    expect(reregistered.json()).toMatchObject({ already_existed: true, retired_at: retirement.retired_at });

    // New work naming it is refused with a stable reason.
    for (const refused of [await zkTask(circuitId), await verify(circuitId, 'groth16')]) {
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ error: 'conflict', reason: 'circuit_retired' });
    }

    // The node holding the run still downloads what it proves with, and its proof completes the task.
    const nodeKey = apiKeyHeader(agent.node.node_api_key);
    const f = zkFixture('multiplier', 'groth16');
    const wasm = await get(`/circuits/${circuitId}/wasm`, nodeKey);
    const zkey = await get(`/circuits/${circuitId}/zkey`, nodeKey);
    expect([wasm.statusCode, zkey.statusCode]).toEqual([200, 200]);
    expect([sha256(wasm.rawPayload), sha256(zkey.rawPayload)]).toEqual([sha256(f.wasm), sha256(f.zkey)]);
    const report = (r: LeasedRun, by: TestAgent) =>
      by.report(
        r,
        'ok',
        { proof: f.proof, public_signals: f.publicSignals },
        { proof: f.proof, public_signals: f.publicSignals },
      );
    expect((await report(run, agent)).json()).toMatchObject({ task_status: 'completed' });

    // A task queued before the retirement is still leased and finishes too.
    const [queuedRun] = await agent.claim({ max: 1, wait_ms: 0 });
    expect(queuedRun.task_id).toBe(queued.json().task_id);
    expect((await report(queuedRun, agent)).json()).toMatchObject({ task_status: 'completed' });
    expect((await getTask(ctx.app, queuedRun.task_id, bearer(alice.accessToken))).proof_id).toEqual(
      expect.any(String),
    );

    // Again: still retired, same time, nothing unfinished now; each call is audited.
    const again = await remove(circuitId);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ ...retirement, already_retired: true, unfinished_tasks: 0 });
    expect(await auditRows('circuit.retired', circuitId)).toEqual([
      {
        status: 'success',
        request_id: res.headers['x-request-id'],
        username: TEST_ADMIN.username,
        metadata: expect.objectContaining({
          already_retired: false,
          referenced_by_tasks: true,
          unfinished_tasks: 2,
        }),
      },
      expect.objectContaining({
        request_id: again.headers['x-request-id'],
        metadata: expect.objectContaining({ already_retired: true, unfinished_tasks: 0 }),
      }),
    ]);
    expect(await auditRows('circuit.deleted', circuitId)).toEqual([]);
  });

  it('retires a circuit stored proofs reference, and refuses further proofs for it', async () => {
    const circuitId = await register('poseidon_preimage', 'groth16');
    const verified = await verify(circuitId, 'groth16', 'poseidon_preimage');
    expect(verified.statusCode).toBe(200);
    expect(verified.json()).toMatchObject({ valid: true });

    const res = await remove(circuitId);
    expect(res.json()).toMatchObject({ outcome: 'retired', unfinished_tasks: 0 });
    const [row] = await auditRows('circuit.retired', circuitId);
    expect(row.metadata).toMatchObject({ referenced_by_tasks: false, referenced_by_proofs: true });
    const verifications = jest.spyOn(ctx.app.get(VerifierPool), 'verify');
    const refused = await verify(circuitId, 'groth16', 'poseidon_preimage');
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ reason: 'circuit_retired', request_id: expect.any(String) });
    // Refused before a verifier thread ran it (it was counted as a valid=true verification before).
    expect(verifications).not.toHaveBeenCalled();
    verifications.mockRestore();
    const proofs = await ctx.dataSource.query(
      `SELECT count(*)::int AS n FROM proof_artifacts WHERE circuit_id = $1`,
      [circuitId],
    );
    expect(proofs).toEqual([{ n: 1 }]);
  });

  it('takes the admin role and admin:circuits (403, nothing changes); unknown or malformed ids are 404', async () => {
    const circuitId = await register('multiplier', 'plonk', { wasm: true });
    const asUser = await remove(circuitId, bearer(alice.accessToken));
    expect(asUser.statusCode).toBe(403);
    expect(asUser.json()).toMatchObject({ error: 'forbidden' });
    const narrowKey = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: admin,
      payload: { name: 'audit only', scopes: ['admin:audit'] },
    });
    const narrow = await remove(circuitId, apiKeyHeader(narrowKey.json().api_key));
    expect(narrow.statusCode).toBe(403);
    expect((await get(`/circuits/${circuitId}`)).json()).toMatchObject({ retired_at: null });
    expect(await auditRows('circuit.deleted', circuitId)).toEqual([]);

    const unknown = await remove('ab'.repeat(32));
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'not_found', message: 'Circuit not found' });
    expect((await remove('not-a-hash')).statusCode).toBe(404);
  });
});
