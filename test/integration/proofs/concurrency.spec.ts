import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { toCircuitRegistration } from '../../../src/proofs/circuit-registration.pipe';
import { CircuitRegistryService } from '../../../src/proofs/circuit-registry.service';
import { ProofVerificationService } from '../../../src/proofs/proof-verification.service';
import { parseVerifyRequest } from '../../../src/proofs/verify-request';
import { testConfig, TestConfig } from '../../support/config';
import { createTestDatabase, TestDatabase } from '../../support/postgres';
import { bootProofs, createUser, zkFixture } from '../../support/zk';

/**
 * Acceptance 3. The one timed assertion in these tests, because it is the requirement itself: verification
 * must not block the event loop. The bound (p99 < 20 ms) is several times a single verification (15-40 ms),
 * so it fails if snarkjs ever runs on this thread, and holds with room on a busy 2-core machine.
 */
describe('200 concurrent verifications', () => {
  let db: TestDatabase;
  let env: TestConfig;
  let app: Awaited<ReturnType<typeof bootProofs>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    // PROOF_VERIFY_TIMEOUT_MS counts time queued in the pool: the last of 200 proofs on 2 threads waits ≈ 2.5 s on
    // a quiet machine but more than the default 10 s on a shared one under load, and would be a stored timeout
    // (valid: false). This test is about lag and correct answers; timeouts have their own test.
    env = testConfig({ DATABASE_URL: db.url, DB_MAX_CONNECTIONS: '10', PROOF_VERIFY_TIMEOUT_MS: '120000' });
    app = await bootProofs(env.config);
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
    env?.cleanup();
  });

  it('all results correct, all stored, event-loop lag p99 < 20 ms', async () => {
    const registry = app.get(CircuitRegistryService);
    const sut = app.get(ProofVerificationService);
    const user = await createUser(app.get(DataSource), 'load');
    const cases = await Promise.all(
      (['groth16', 'plonk'] as const).map(async (protocol) => {
        const f = zkFixture('multiplier', protocol);
        const { circuit } = await registry.register(
          toCircuitRegistration({ name: protocol, protocol, verification_key: f.vkey }, env.config.proofs),
          null,
        );
        return { id: circuit.circuit_id, f };
      }),
    );
    const requests = Array.from({ length: 200 }, (_, i) => {
      const { id, f } = cases[i % 2];
      const valid = i % 4 < 2; // half of each protocol valid, half with a changed signal
      return {
        expected: valid,
        body: parseVerifyRequest({
          circuit_id: id,
          proof: f.proof,
          public_signals: valid ? f.publicSignals : ['34', '11'],
        }),
      };
    });
    await Promise.all(requests.slice(0, 4).map((r) => sut.verify(r.body, user))); // threads warm

    const lag = monitorEventLoopDelay({ resolution: 1 });
    lag.enable();
    const results = await Promise.all(requests.map((r) => sut.verify(r.body, user)));
    lag.disable();

    // A wrong answer shows its error_message, so a timeout does not read like a false proof.
    const answers = results.map((r, i) =>
      r.valid === requests[i].expected ? r.valid : (r.error_message ?? r.valid),
    );
    expect(answers).toEqual(requests.map((r) => r.expected));
    expect(new Set(results.map((r) => r.proof_id)).size).toBe(200);
    const [{ n }] = await app
      .get(DataSource)
      .query(`SELECT count(*)::int AS n FROM proof_artifacts WHERE proof_id = ANY($1::uuid[])`, [
        results.map((r) => r.proof_id),
      ]);
    expect(n).toBe(200);
    const p99 = lag.percentile(99) / 1e6;
    console.log(
      `event-loop lag over 200 concurrent verifications: p99 ${p99.toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`,
    );
    expect(p99).toBeLessThan(20);
  });
});
