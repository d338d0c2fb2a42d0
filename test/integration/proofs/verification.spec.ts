import { DataSource } from 'typeorm';
import { Lane } from '../../../src/common/concurrency/fair-queue';
import { AppException } from '../../../src/common/errors/app.exception';
import { CircuitRegistryService } from '../../../src/proofs/circuit-registry.service';
import { toCircuitRegistration } from '../../../src/proofs/circuit-registration.pipe';
import { ProofVerificationService } from '../../../src/proofs/proof-verification.service';
import { VerifierPool, VerifyJob } from '../../../src/proofs/verifier-pool';
import { parseVerifyRequest } from '../../../src/proofs/verify-request';
import { testConfig, TestConfig } from '../../support/config';
import { createTestDatabase, TestDatabase } from '../../support/postgres';
import { expect422Thrown as expect422 } from '../../support/validation';
import {
  b64,
  bootProofs,
  createRun,
  createTask,
  createUser,
  FixtureCircuit,
  FixtureIds,
  FixtureProtocol,
  legacyVerifyBody,
  Q,
  MALFORMED_SIGNAL_CASES,
  R,
  verifyBody,
  zkFixture,
} from '../../support/zk';

type Boot = Awaited<ReturnType<typeof bootProofs>>;

async function rejection(promise: Promise<unknown>): Promise<AppException> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof AppException)) throw new Error(`expected an AppException, got ${String(error)}`);
  return error;
}

describe('proof verification (service level, real PostgreSQL, real snarkjs threads)', () => {
  let db: TestDatabase;
  let env: TestConfig;
  let app: Boot;
  let ds: DataSource;
  let service: ProofVerificationService;
  /** The route's parsing (VerifyRequestPipe past its DTO) and the service, as a body meets them. */
  const sut = {
    verify: async (body: unknown, caller: string) => service.verify(parseVerifyRequest(body), caller),
  };
  let alice: string;
  let bob: string;
  const ids: FixtureIds = {};

  const register = async (circuit: FixtureCircuit, protocol: FixtureProtocol) => {
    const f = zkFixture(circuit, protocol);
    const registry = app.get(CircuitRegistryService);
    const { circuit: c } = await registry.register(
      toCircuitRegistration(
        { name: `${circuit} ${protocol}`, protocol, verification_key: f.vkey },
        env.config.proofs,
      ),
      null,
    );
    ids[`${circuit}.${protocol}`] = c.circuit_id;
  };
  const modern = (circuit: FixtureCircuit, protocol: FixtureProtocol, patch: Record<string, unknown> = {}) =>
    verifyBody(ids, circuit, protocol, patch);
  const count = async () => (await ds.query(`SELECT count(*)::int AS n FROM proof_artifacts`))[0].n as number;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = testConfig({ DATABASE_URL: db.url, PROOF_WORKERS: '2' });
    app = await bootProofs(env.config);
    ds = app.get(DataSource);
    service = app.get(ProofVerificationService);
    alice = await createUser(ds, 'alice');
    bob = await createUser(ds, 'bob');
    await register('multiplier', 'groth16');
    await register('multiplier', 'plonk');
    await register('multiplier', 'fflonk');
    await register('poseidon_preimage', 'groth16');
    await register('poseidon_preimage', 'plonk');
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
    env?.cleanup();
  });

  describe('acceptance 1: valid fixture proofs verify and are stored', () => {
    it.each([
      ['multiplier', 'groth16'],
      ['multiplier', 'plonk'],
      ['multiplier', 'fflonk'],
      ['poseidon_preimage', 'groth16'],
      ['poseidon_preimage', 'plonk'],
    ] as const)('%s %s', async (circuit, protocol) => {
      const result = await sut.verify(modern(circuit, protocol), alice);
      expect(result).toEqual({
        valid: true,
        proof_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        circuit_id: ids[`${circuit}.${protocol}`],
        task_id: null,
        verified_at: expect.any(String),
        verification_time_ms: expect.any(Number),
        error_message: null,
      });
      const [row] = await ds.query(`SELECT * FROM proof_artifacts WHERE proof_id = $1`, [result.proof_id]);
      const f = zkFixture(circuit, protocol);
      expect(row).toMatchObject({
        verified: true,
        proof_system: protocol,
        circuit_id: ids[`${circuit}.${protocol}`],
        submitted_by: alice,
        error_message: null,
      });
      expect(JSON.parse((row.proof_data as Buffer).toString('utf8'))).toEqual(f.proof);
      expect(JSON.parse((row.public_inputs as Buffer).toString('utf8'))).toEqual(f.publicSignals);
      expect(new Date(row.verified_at).toISOString()).toBe(result.verified_at);
      expect(Number(row.verification_time_ms)).toBe(result.verification_time_ms);
    });

    it("accepts the original's base64 form for the caller's own task", async () => {
      const task = await createTask(ds, alice, ids['multiplier.groth16']);
      const f = zkFixture('multiplier', 'groth16');
      const result = await sut.verify(
        legacyVerifyBody(task, ids['multiplier.groth16'], b64(f.proof), b64(f.publicSignals)),
        alice,
      );
      expect(result).toMatchObject({ valid: true, task_id: task });
      const [row] = await ds.query(`SELECT task_id FROM proof_artifacts WHERE proof_id = $1`, [
        result.proof_id,
      ]);
      expect(row.task_id).toBe(task);
    });

    it('stores the same proof twice as two artifacts (proof bytes are never a key)', async () => {
      const first = await sut.verify(modern('multiplier', 'plonk'), alice);
      const second = await sut.verify(modern('multiplier', 'plonk'), alice);
      expect(second.proof_id).not.toBe(first.proof_id);
      expect(second.valid && first.valid).toBe(true);
    });
  });

  describe('acceptance 2: rejections, never a 500', () => {
    it.each(['groth16', 'plonk'] as const)(
      '%s: one public signal changed → 200 valid:false, stored',
      async (p) => {
        const before = await count();
        const result = await sut.verify(modern('multiplier', p, { public_signals: ['34', '11'] }), alice);
        expect(result.valid).toBe(false);
        expect(result.error_message).toMatch(/does not verify/);
        expect(await count()).toBe(before + 1);
        const [row] = await ds.query(
          `SELECT verified, verified_at FROM proof_artifacts WHERE proof_id = $1`,
          [result.proof_id],
        );
        expect(row.verified).toBe(false);
        expect(row.verified_at).not.toBeNull();
      },
    );

    it.each(['groth16', 'plonk'] as const)(
      '%s: every malformed signal list → 422 naming the field',
      async (p) => {
        const before = await count();
        for (const [, signals, field] of MALFORMED_SIGNAL_CASES) {
          await expect422(sut.verify(modern('multiplier', p, { public_signals: signals }), alice), field);
        }
        expect(await count()).toBe(before); // refused before verification: nothing to store
      },
    );

    it("checked against another circuit's id → 422 (signal count of that circuit)", async () => {
      const body = modern('multiplier', 'groth16', { circuit_id: ids['poseidon_preimage.groth16'] });
      await expect422(sut.verify(body, alice), 'public_signals');
      const poseidon = modern('poseidon_preimage', 'plonk', { circuit_id: ids['multiplier.plonk'] });
      await expect422(sut.verify(poseidon, alice), 'public_signals');
    });

    it('a proof of the other protocol → 422 on proof.protocol, also when relabelled → 422 on its shape', async () => {
      const plonkProof = zkFixture('multiplier', 'plonk').proof;
      await expect422(
        sut.verify(modern('multiplier', 'groth16', { proof: plonkProof }), alice),
        'proof.protocol',
      );
      const relabelled = { ...plonkProof, protocol: 'groth16' };
      await expect422(sut.verify(modern('multiplier', 'groth16', { proof: relabelled }), alice), 'proof.A');
      const groth = zkFixture('multiplier', 'groth16').proof;
      await expect422(sut.verify(modern('multiplier', 'fflonk', { proof: groth }), alice), 'proof.protocol');
    });

    it('malformed proof coordinates → 422 naming the coordinate', async () => {
      const f = zkFixture('multiplier', 'groth16');
      const pi = (patch: Record<string, unknown>) =>
        modern('multiplier', 'groth16', { proof: { ...f.proof, ...patch } });
      const [ax, ay] = f.proof.pi_a as string[];
      await expect422(sut.verify(pi({ pi_a: [`0${ax}`, ay, '1'] }), alice), 'proof.pi_a[0]');
      await expect422(sut.verify(pi({ pi_a: [String(BigInt(ax) + Q), ay, '1'] }), alice), 'proof.pi_a[0]');
      await expect422(sut.verify(pi({ pi_a: [ax, ay, '2'] }), alice), 'proof.pi_a[2]');
      await expect422(sut.verify(pi({ pi_a: [ax, ay] }), alice), 'proof.pi_a');
      await expect422(
        sut.verify(
          pi({
            pi_b: [
              ['1', '2'],
              ['3', '4'],
            ],
          }),
          alice,
        ),
        'proof.pi_b',
      );
      await expect422(sut.verify(pi({ extra: '1' }), alice), 'proof.extra');
      await expect422(sut.verify(pi({ curve: 'bls12381' }), alice), 'proof.curve');
      const plonk = zkFixture('multiplier', 'plonk').proof;
      const evalPlusR = { ...plonk, eval_a: String(BigInt(plonk.eval_a as string) + R) };
      await expect422(sut.verify(modern('multiplier', 'plonk', { proof: evalPlusR }), alice), 'proof.eval_a');
    });

    it('garbage JSON → 422, in either form', async () => {
      const id = ids['multiplier.groth16'];
      const task = await createTask(ds, alice, ids['multiplier.groth16']);
      const legacy = (proofData: string, publicInputs?: string) =>
        sut.verify(legacyVerifyBody(task, id, proofData, publicInputs), alice);
      await expect422(legacy(Buffer.from('{"pi_a": [').toString('base64')), 'proof_data');
      await expect422(legacy(b64(zkFixture('multiplier', 'groth16').proof), 'not base64!'), 'public_inputs');
      await expect422(sut.verify(modern('multiplier', 'groth16', { proof: 'garbage' }), alice), 'proof');
      await expect422(sut.verify(modern('multiplier', 'groth16', { proof: [1, 2] }), alice), 'proof');
      await expect422(sut.verify('garbage', alice), 'body');
      await expect422(sut.verify(null, alice), 'body');
    });

    it('oversized base64 → 422 before anything is decoded', async () => {
      const id = ids['multiplier.groth16'];
      const task = await createTask(ds, alice, ids['multiplier.groth16']);
      const ok = b64(zkFixture('multiplier', 'groth16').proof);
      // Not even valid base64: the cap must be what refuses it, not the decoder.
      await expect422(
        sut.verify(legacyVerifyBody(task, id, '!'.repeat(100 * 1024 + 1)), alice),
        'proof_data',
      );
      await expect422(
        sut.verify(legacyVerifyBody(task, id, ok, 'A'.repeat(10 * 1024 + 4)), alice),
        'public_inputs',
      );
    });

    it('request-level mistakes → 422; an unknown circuit → 404', async () => {
      await expect422(
        sut.verify(modern('multiplier', 'groth16', { circuit_id: 'ABC' }), alice),
        'circuit_id',
      );
      await expect422(sut.verify(modern('multiplier', 'groth16', { task_id: 'nope' }), alice), 'task_id');
      await expect422(sut.verify(modern('multiplier', 'groth16', { surprise: 1 }), alice), 'surprise');
      const { proof_data } = { proof_data: b64({}) };
      await expect422(
        sut.verify({ circuit_id: ids['multiplier.groth16'], proof_data, public_inputs: b64([]) }, alice),
        'task_id',
      );
      const missing = await rejection(
        sut.verify(modern('multiplier', 'groth16', { circuit_id: 'a'.repeat(64) }), alice),
      );
      expect({ code: missing.code, status: missing.getStatus() }).toEqual({ code: 'not_found', status: 404 });
    });
  });

  describe('task ownership', () => {
    const expect404 = async (promise: Promise<unknown>) => {
      const error = await rejection(promise);
      expect({ code: error.code, status: error.getStatus() }).toEqual({ code: 'not_found', status: 404 });
    };

    it("another user's task, an unknown task and a run of another task are all the same 404", async () => {
      const bobsTask = await createTask(ds, bob, ids['multiplier.groth16']);
      const alicesTask = await createTask(ds, alice, ids['multiplier.groth16']);
      const bobsRun = await createRun(ds, bobsTask);
      const before = await count();
      await expect404(sut.verify(modern('multiplier', 'groth16', { task_id: bobsTask }), alice));
      await expect404(
        sut.verify(
          modern('multiplier', 'groth16', { task_id: '00000000-0000-4000-8000-000000000000' }),
          alice,
        ),
      );
      await expect404(sut.verify(modern('multiplier', 'groth16', { run_id: bobsRun }), alice));
      await expect404(
        sut.verify(modern('multiplier', 'groth16', { task_id: alicesTask, run_id: bobsRun }), alice),
      );
      expect(await count()).toBe(before);
    });

    it("a run of the caller's task records both the run and its task", async () => {
      const task = await createTask(ds, alice, ids['multiplier.plonk']);
      const run = await createRun(ds, task);
      const result = await sut.verify(modern('multiplier', 'plonk', { run_id: run }), alice);
      expect(result).toMatchObject({ valid: true, task_id: task });
      const [row] = await ds.query(`SELECT task_id, run_id FROM proof_artifacts WHERE proof_id = $1`, [
        result.proof_id,
      ]);
      expect(row).toEqual({ task_id: task, run_id: run });
    });
  });

  describe('when snarkjs throws: a stored valid:false; when it runs out of time: a 503 that stores nothing', () => {
    /** A real pool whose jobs reach snarkjs with a key missing its IC points, so snarkjs throws in the thread. */
    class ThrowingPool extends VerifierPool {
      override verify(job: VerifyJob, lane: Lane, timeoutMs?: number) {
        return super.verify({ ...job, vkey: { ...(job.vkey as object), IC: [] } }, lane, timeoutMs);
      }
    }

    const bootWith = (extraEnv: Record<string, string>, pool?: VerifierPool) =>
      bootProofs(
        testConfig({ DATABASE_URL: db.url, ...extraEnv }).config,
        pool ? [{ provide: VerifierPool, useValue: pool }] : [],
      );

    it('snarkjs throws: stored as valid:false', async () => {
      const pool = new ThrowingPool({ workers: 1, timeoutMs: 10_000 });
      const other = await bootWith({ PROOF_WORKERS: '1' }, pool);
      try {
        const result = await other
          .get(ProofVerificationService)
          .verify(parseVerifyRequest(modern('multiplier', 'groth16')), alice);
        expect(result.valid).toBe(false);
        expect(result.error_message).toMatch(/could not evaluate/);
        const [row] = await ds.query(
          `SELECT verified, error_message FROM proof_artifacts WHERE proof_id = $1`,
          [result.proof_id],
        );
        expect(row).toEqual({ verified: false, error_message: result.error_message });
      } finally {
        await other.close();
        await pool.close();
      }
    });

    it('snarkjs runs past its budget: 503 with Retry-After, nothing stored (a timeout is no verdict)', async () => {
      const other = await bootWith({ PROOF_WORKERS: '1', PROOF_VERIFY_TIMEOUT_MS: '1' });
      const before = await count();
      try {
        const error = await rejection(
          other
            .get(ProofVerificationService)
            .verify(parseVerifyRequest(modern('multiplier', 'groth16')), alice),
        );
        expect({ code: error.code, status: error.getStatus() }).toEqual({
          code: 'service_unavailable',
          status: 503,
        });
        expect(error.message).toMatch(/did not finish within 1 ms; nothing was stored/);
        expect(error.headers['Retry-After']).toMatch(/^[1-9][0-9]*$/);
        expect(await count()).toBe(before);
      } finally {
        await other.close();
      }
    });
  });
});
