import { LightMyRequestResponse } from 'fastify';
import { useAdminApp } from '../support/admin';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { eventually } from '../support/eventually';
import { circuitPayload, FixtureCircuit, FixtureProtocol, postFixtureProof, postZkTask } from '../support/zk';
import { CircuitRegistryService } from '../../src/proofs/circuit-registry.service';
import { CircuitRepository } from '../../src/proofs/circuit.repository';
import { ProofArtifactRepository } from '../../src/proofs/proof-artifact.repository';

/**
 * `DELETE /admin/circuits/:circuit_id` committing while a task or a proof naming the circuit is between its
 * read of the circuit and its insert, or while a restore of the circuit runs (and the other way round). Each
 * test takes a circuit no other test retires (fixtures: 5 keys); a deleted one registers anew.
 */
describeEachDatabase('circuit removal racing new work on %s', (database) => {
  const ctx = useAdminApp({ database, env: { PROOF_WORKERS: '1', SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let admin: Record<string, string>;
  // A transaction running while another waits on its lock happens only on PostgreSQL (the embedded database is
  // one session): such cases are defined for it alone, not skipped on PGlite.
  const itOnPostgres: jest.It = database === 'postgres' ? it : ((() => undefined) as unknown as jest.It);
  let alice: Session;

  beforeAll(async () => {
    admin = bearer(ctx.admin.accessToken);
    alice = await newSession(ctx.app, 'alice');
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  const register = async (circuit: FixtureCircuit, protocol: FixtureProtocol, artifacts = true) => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/circuits',
      headers: admin,
      payload: circuitPayload(circuit, protocol, { wasm: artifacts, zkey: artifacts }),
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ circuit_id: string }>().circuit_id;
  };
  const remove = (circuitId: string) =>
    ctx.app.inject({ method: 'DELETE', url: `/api/v1/admin/circuits/${circuitId}`, headers: admin });
  const restore = (circuitId: string) =>
    ctx.app.inject({ method: 'POST', url: `/api/v1/admin/circuits/${circuitId}/restore`, headers: admin });
  const zkTask = (circuitId: string, circuit: FixtureCircuit, headers: Record<string, string> = {}) =>
    postZkTask(ctx.app, { ...bearer(alice.accessToken), ...headers }, circuitId, circuit);
  const verify = (circuitId: string, circuit: FixtureCircuit, protocol: FixtureProtocol) =>
    postFixtureProof(ctx.app, bearer(alice.accessToken), circuitId, circuit, protocol);
  const count = async (table: 'tasks' | 'proof_artifacts', circuitId: string) => {
    const [{ n }] = await ctx.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM ${table} WHERE circuit_id = $1`,
      [circuitId],
    );
    return n;
  };

  /** Sessions of this test's database waiting for a lock: a statement blocked on a transaction still open. */
  const waitingLocks = async () => {
    const [{ n }] = await ctx.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return n;
  };

  /**
   * The remover's (or restorer's) `step` — retire, delete or restore the row — runs, then its transaction stays
   * open until `commit()`: whatever reads the circuit with a lock meanwhile waits on it.
   */
  const holdRemoverAfter = (step: 'retire' | 'delete' | 'restore') => {
    const circuits = ctx.app.get(CircuitRepository);
    const original = circuits[step].bind(circuits) as (id: string) => Promise<unknown>;
    let reach!: () => void;
    const reached = new Promise<void>((resolve) => (reach = resolve));
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => (commit = resolve));
    jest.spyOn(circuits, step).mockImplementationOnce((async (id: string) => {
      const result = await original(id);
      reach();
      await committing;
      return result;
    }) as never);
    return { reached, commit };
  };

  /**
   * A DELETE of the circuit started as the proof's insert is about to run; the insert starts once the remover
   * has done `step`, and the remover commits once the insert waits on its lock. Returns the DELETE's answer.
   */
  const removeDuringProofInsert = (circuitId: string, step: 'retire' | 'delete') => {
    const remover = holdRemoverAfter(step);
    const artifacts = ctx.app.get(ProofArtifactRepository);
    const insert = artifacts.insertForActiveCircuit.bind(artifacts);
    const removal: { res?: Promise<LightMyRequestResponse> } = {};
    jest.spyOn(artifacts, 'insertForActiveCircuit').mockImplementationOnce(async (artifact) => {
      removal.res = remove(circuitId);
      await remover.reached;
      const inserted = insert(artifact);
      await eventually(async () => expect(await waitingLocks()).toBeGreaterThan(0));
      remover.commit();
      return inserted;
    });
    return removal;
  };

  /** The DELETE, run once right after the task submission's read of the circuit; its answer is kept. */
  const removeAfterTaskRead = () => {
    const registry = ctx.app.get(CircuitRegistryService);
    const get = registry.get.bind(registry);
    const removal: { res?: LightMyRequestResponse } = {};
    jest.spyOn(registry, 'get').mockImplementationOnce(async (circuitId) => {
      const circuit = await get(circuitId);
      removal.res = await remove(circuitId);
      return circuit;
    });
    return removal;
  };

  it.each([
    ['without', 'multiplier', 'groth16', {}],
    ['with', 'multiplier', 'plonk', { 'idempotency-key': 'race-retired' }],
  ] as const)(
    'a task (%s Idempotency-Key) whose circuit is retired after its read is refused 409 circuit_retired',
    async (_, circuit, protocol, headers) => {
      const circuitId = await register(circuit, protocol);
      expect((await zkTask(circuitId, circuit)).statusCode).toBe(201);
      const removal = removeAfterTaskRead();

      const res = await zkTask(circuitId, circuit, headers);
      expect(removal.res?.json()).toMatchObject({ outcome: 'retired', unfinished_tasks: 1 });
      expect([res.statusCode, res.json()]).toEqual([
        409,
        expect.objectContaining({ error: 'conflict', reason: 'circuit_retired' }),
      ]);
      expect(await count('tasks', circuitId)).toBe(1);
    },
  );

  itOnPostgres(
    'a task whose lock on its circuit waits on a retirement in progress is refused 409 circuit_retired',
    async () => {
      const circuitId = await register('poseidon_preimage', 'plonk');
      expect((await zkTask(circuitId, 'poseidon_preimage')).statusCode).toBe(201);
      // The remover retires the row, then holds its transaction open until the task's insert waits on it.
      const remover = holdRemoverAfter('retire');
      const registry = ctx.app.get(CircuitRegistryService);
      const get = registry.get.bind(registry);
      let removal: Promise<LightMyRequestResponse> | undefined;
      jest.spyOn(registry, 'get').mockImplementationOnce(async (id) => {
        const circuit = await get(id);
        removal = remove(id);
        await remover.reached;
        return circuit;
      });

      const submitted = zkTask(circuitId, 'poseidon_preimage');
      await remover.reached;
      await eventually(async () => expect(await waitingLocks()).toBeGreaterThan(0));
      remover.commit();
      const res = await submitted;
      expect((await removal)?.json()).toMatchObject({ outcome: 'retired', unfinished_tasks: 1 });
      expect([res.statusCode, res.json()]).toEqual([
        409,
        expect.objectContaining({ error: 'conflict', reason: 'circuit_retired' }),
      ]);
      expect(await count('tasks', circuitId)).toBe(1);
    },
  );

  it('a task whose circuit is deleted after its read is a 422 naming circuit_id, not a 500', async () => {
    const circuitId = await register('poseidon_preimage', 'groth16');
    const removal = removeAfterTaskRead();

    const res = await zkTask(circuitId, 'poseidon_preimage');
    expect(removal.res?.json()).toMatchObject({ outcome: 'deleted' });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({
      error: 'validation_error',
      details: [{ field: 'circuit_id', message: 'no such circuit is registered' }],
    });
    expect(await count('tasks', circuitId)).toBe(0);
  });

  it('a proof whose circuit is deleted after its read is a 404, and nothing is stored', async () => {
    const circuitId = await register('multiplier', 'fflonk', false);
    const artifacts = ctx.app.get(ProofArtifactRepository);
    const insert = artifacts.insertForActiveCircuit.bind(artifacts);
    let removal: LightMyRequestResponse | undefined;
    jest.spyOn(artifacts, 'insertForActiveCircuit').mockImplementationOnce(async (artifact) => {
      removal = await remove(circuitId);
      return insert(artifact);
    });

    const res = await verify(circuitId, 'multiplier', 'fflonk');
    expect(removal?.json()).toMatchObject({ outcome: 'deleted' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: 'not_found', message: 'Circuit not found' });
    expect(await count('proof_artifacts', circuitId)).toBe(0);
  });

  // Only PostgreSQL runs two transactions at once: on the embedded database a deletion commits before or after
  // the proof's statement, never while it runs.
  itOnPostgres(
    'a proof whose insert waits on a deletion in progress is a 404, not a 500, and nothing is stored',
    async () => {
      const circuitId = await register('poseidon_preimage', 'groth16', false);
      const removal = removeDuringProofInsert(circuitId, 'delete');

      const res = await verify(circuitId, 'poseidon_preimage', 'groth16');
      expect((await removal.res)?.json()).toMatchObject({ outcome: 'deleted' });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: 'not_found', message: 'Circuit not found' });
      expect(await count('proof_artifacts', circuitId)).toBe(0);
    },
  );

  itOnPostgres(
    'a proof whose insert waits on a retirement in progress is refused 409 circuit_retired, and nothing is stored',
    async () => {
      const circuitId = await register('multiplier', 'fflonk', false);
      // A stored proof references it: removing it retires it.
      expect((await verify(circuitId, 'multiplier', 'fflonk')).statusCode).toBe(200);
      const removal = removeDuringProofInsert(circuitId, 'retire');

      const res = await verify(circuitId, 'multiplier', 'fflonk');
      expect((await removal.res)?.json()).toMatchObject({ outcome: 'retired' });
      expect([res.statusCode, res.json()]).toEqual([
        409,
        expect.objectContaining({ error: 'conflict', reason: 'circuit_retired' }),
      ]);
      expect(await count('proof_artifacts', circuitId)).toBe(1);
    },
  );

  const restoredAudits = async (circuitId: string) => {
    const [{ n }] = await ctx.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'circuit.restored' AND resource_id = $1`,
      [circuitId],
    );
    return n;
  };

  // The restore reads the row with the remover's lock: read without it, it would find the row the deletion is
  // removing, and its update would then find none (a 500).
  itOnPostgres(
    'a restore waiting on a deletion in progress is a 404, not a 500, and restores nothing',
    async () => {
      const circuitId = await register('poseidon_preimage', 'groth16', false);
      // Retired, and since then nothing references it (as after old proofs were purged): removing deletes it.
      await ctx.dataSource.query(`UPDATE circuits SET retired_at = now() WHERE circuit_id = $1`, [circuitId]);
      const remover = holdRemoverAfter('delete');
      const removal = remove(circuitId);
      await remover.reached;

      const restored = restore(circuitId);
      await eventually(async () => expect(await waitingLocks()).toBeGreaterThan(0));
      remover.commit();
      expect((await removal).json()).toMatchObject({ outcome: 'deleted' });
      const res = await restored;
      expect([res.statusCode, res.json()]).toEqual([
        404,
        expect.objectContaining({ error: 'not_found', message: 'Circuit not found' }),
      ]);
      expect(await ctx.dataSource.query(`SELECT 1 FROM circuits WHERE circuit_id = $1`, [circuitId])).toEqual(
        [],
      );
      expect(await restoredAudits(circuitId)).toBe(0);
    },
  );

  // The removal's locked read comes after the restore's commit: it retires the circuit anew, and says so.
  itOnPostgres(
    'a removal waiting on a restore in progress retires the circuit anew, as its answer says',
    async () => {
      // Deleted by the tests above; it stays retired after this one.
      const circuitId = await register('poseidon_preimage', 'groth16');
      expect((await zkTask(circuitId, 'poseidon_preimage')).statusCode).toBe(201);
      const first = (await remove(circuitId)).json<{ outcome: string; retired_at: string }>();
      expect(first.outcome).toBe('retired');
      const restorer = holdRemoverAfter('restore');
      const restored = restore(circuitId);
      await restorer.reached;

      const removal = remove(circuitId);
      await eventually(async () => expect(await waitingLocks()).toBeGreaterThan(0));
      restorer.commit();
      expect((await restored).json()).toMatchObject({ circuit_id: circuitId, retired_at: null });
      const retired = (await removal).json<{ retired_at: string }>();
      expect(retired).toMatchObject({ outcome: 'retired', already_retired: false, unfinished_tasks: 1 });
      expect(retired.retired_at).not.toBe(first.retired_at);
      const [row] = await ctx.dataSource.query<{ retired_at: Date }[]>(
        `SELECT retired_at FROM circuits WHERE circuit_id = $1`,
        [circuitId],
      );
      expect(row.retired_at.toISOString()).toBe(retired.retired_at);
      expect(await restoredAudits(circuitId)).toBe(1);
    },
  );
});
