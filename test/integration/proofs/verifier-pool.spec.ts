import { VerifierPool, VerifyJob } from '../../../src/proofs/verifier-pool';
import { internalLane } from '../../../src/common/concurrency/fair-queue';
import { zkFixture } from '../../support/zk';

const LANE = internalLane('test');

function job(protocol: 'groth16' | 'plonk' | 'fflonk', signals?: string[]): VerifyJob {
  const f = zkFixture('multiplier', protocol);
  return { protocol, vkey: f.vkey, proof: f.proof, publicSignals: signals ?? f.publicSignals };
}

describe('VerifierPool (real worker threads running snarkjs)', () => {
  let sut: VerifierPool;

  beforeAll(() => {
    sut = new VerifierPool({ workers: 2, timeoutMs: 20_000 });
  });
  afterAll(() => sut.close());

  it('starts no thread until the first verification, then one per configured worker', async () => {
    expect(sut.threadCount).toBe(0);
    // 400 ms: a PLONK verification takes ~15 ms on a started thread, while starting one (loading snarkjs and
    // building its curve) took 730 ms here. The start is not charged to the budget.
    await expect(sut.verify(job('plonk'), LANE, 400)).resolves.toMatchObject({
      kind: 'verified',
      valid: true,
    });
    expect(sut.threadCount).toBe(2);
  });

  it.each(['groth16', 'plonk', 'fflonk'] as const)(
    'accepts a valid %s proof and refuses a false one',
    async (p) => {
      await expect(sut.verify(job(p), LANE)).resolves.toMatchObject({ kind: 'verified', valid: true });
      await expect(sut.verify(job(p, ['34', '11']), LANE)).resolves.toMatchObject({
        kind: 'verified',
        valid: false,
      });
    },
  );

  it('reports a throw inside snarkjs as failed, with its message, and keeps serving', async () => {
    const broken = { ...job('groth16'), vkey: { ...(job('groth16').vkey as object), IC: [] } };
    const outcome = await sut.verify(broken, LANE);
    expect(outcome.kind).toBe('failed');
    expect(outcome).toHaveProperty('message', expect.any(String));
    await expect(sut.verify(job('groth16'), LANE)).resolves.toMatchObject({ kind: 'verified', valid: true });
  });

  it('aborts a verification past its timeout, replaces the thread and keeps serving', async () => {
    await expect(sut.verify(job('groth16'), LANE, 1)).resolves.toMatchObject({ kind: 'timeout' });
    await expect(sut.verify(job('groth16'), LANE)).resolves.toMatchObject({ kind: 'verified', valid: true });
    expect(sut.threadCount).toBe(2);
  });

  it('after close: no threads, and verify answers unavailable instead of hanging', async () => {
    const pool = new VerifierPool({ workers: 1, timeoutMs: 5000 });
    await expect(pool.verify(job('plonk'), LANE)).resolves.toMatchObject({ kind: 'verified', valid: true });
    await pool.close();
    await pool.close(); // idempotent
    expect(pool.threadCount).toBe(0);
    await expect(pool.verify(job('plonk'), LANE)).resolves.toMatchObject({ kind: 'unavailable' });
  });
});
