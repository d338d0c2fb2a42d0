import { ProofCheck, ProofVerificationService } from '../../src/proofs/proof-verification.service';
import { RUN_TIME_ALLOWANCE_SECS } from '../../src/scheduling/lease-deadline';
import { LeaseSweeper } from '../../src/scheduling/lease-sweeper';
import { useAdminApp } from '../support/admin';
import { LeasedRun, TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { getTask, submitTask } from '../support/tasks';
import { registerCircuit, zkFixture } from '../support/zk';

const MAX_EXECUTION_SECS = 60;
/** PROOF_VERIFY_TIMEOUT_MS here: the hold is two of them (a wait and a run) and a margin of 10 s. */
const VERIFY_TIMEOUT_MS = 2000;

/**
 * A zk_proof result is verified before its transaction, and verification may wait for a verifier thread. A
 * result that arrived on a live lease is judged by its arrival: the lease is held while the server verifies,
 * even past the run's deadline (max_execution_time_sec + 900 s) — but a result that arrives after the deadline
 * holds nothing, so submitting never extends a lease past it.
 */
describe.each(['postgres', 'pglite'] as const)(
  'a zk_proof result near its run’s deadline (%s)',
  (database) => {
    const ctx = useAdminApp({
      database,
      env: {
        SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
        PROOF_VERIFY_TIMEOUT_MS: String(VERIFY_TIMEOUT_MS),
        TASK_RETRY_BASE_MS: '0',
      },
    });
    const proof = zkFixture('multiplier', 'groth16');
    let alice: Session;
    let circuitId: string;

    beforeAll(async () => {
      alice = await newSession(ctx.app, 'alice');
      circuitId = await registerCircuit(ctx.app, bearer(ctx.admin.accessToken), 'multiplier', 'groth16');
    });
    afterEach(() => jest.restoreAllMocks());
    afterAll(async () => {
      await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
    });

    /** A claimed zk_proof run whose deadline is `secs` from now (its claim moved back), its lease `leaseSecs`. */
    const runWithDeadlineIn = async (
      secs: number,
      leaseSecs: number,
    ): Promise<{ node: TestAgent; run: LeasedRun }> => {
      const task = await submitTask(ctx.app, bearer(alice.accessToken), {
        task_type: 'zk_proof',
        circuit_id: circuitId,
        inputs: { public_signals: proof.publicSignals },
        requirements: { min_nodes: 1, max_execution_time_sec: MAX_EXECUTION_SECS },
      });
      const node = await TestAgent.register(ctx.app, bearer(alice.accessToken));
      // Its own run: another test's task, put back in the queue, may be leased beside it.
      const run = (await node.claim({ max: 16, wait_ms: 0 })).find((r) => r.task_id === task.task_id)!;
      expect(run).toBeDefined();
      await ctx.dataSource.query(
        `UPDATE task_runs SET started_at = now() - $2::float8 * interval '1 second',
                            lease_expires_at = now() + $3::float8 * interval '1 second'
        WHERE run_id = $1`,
        [run.run_id, MAX_EXECUTION_SECS + RUN_TIME_ALLOWANCE_SECS - secs, leaseSecs],
      );
      return { node, run };
    };
    const pastInDatabase = async (runId: string, what: 'deadline' | 'lease') => {
      const ends =
        what === 'deadline'
          ? `started_at + ${MAX_EXECUTION_SECS + RUN_TIME_ALLOWANCE_SECS} * interval '1 second'`
          : 'lease_expires_at';
      const [row] = await ctx.dataSource.query<{ past: boolean }[]>(
        `SELECT ${ends} < now() AS past FROM task_runs WHERE run_id = $1`,
        [runId],
      );
      return row.past;
    };
    /** Verification waits (as in a busy verifier queue) until `ready`, with a lease sweep run meanwhile. */
    const slowVerification = (ready: () => Promise<boolean>) => {
      const proofs = ctx.app.get(ProofVerificationService);
      const check = proofs.check.bind(proofs);
      jest
        .spyOn(proofs, 'check')
        .mockImplementation(
          async (...args: Parameters<ProofVerificationService['check']>): Promise<ProofCheck> => {
            await eventually(async () => expect(await ready()).toBe(true), { timeoutMs: 10_000 });
            await ctx.app.get(LeaseSweeper).sweep();
            return check(...args);
          },
        );
    };
    const report = (node: TestAgent, run: LeasedRun) =>
      node.report(
        run,
        'ok',
        { proof: proof.proof, public_signals: proof.publicSignals },
        { proof: proof.proof, public_signals: proof.publicSignals },
      );

    it('arriving 3 s before the deadline and verified after it (a sweep between): accepted, the task completed', async () => {
      // Its lease ends at the deadline, as the heartbeats' renewals left it.
      const { node, run } = await runWithDeadlineIn(3, 3);
      slowVerification(async () => {
        const past = await pastInDatabase(run.run_id, 'deadline');
        // Held for the server's verification only: the node renews nothing past the deadline.
        if (past) expect((await node.heartbeat([run])).json().leases.lost).toEqual([run.run_id]);
        return past;
      });
      const res = await report(node, run);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ run_status: 'succeeded', task_status: 'completed' });
      expect((await getTask(ctx.app, run.task_id, bearer(alice.accessToken))).status).toBe('completed');
    });

    it('arriving after the deadline on a lease still live: held no longer, so 409 lease_lost once it runs out', async () => {
      const { node, run } = await runWithDeadlineIn(-1, 3); // past its deadline, its lease 3 s more
      slowVerification(() => pastInDatabase(run.run_id, 'lease'));
      const res = await report(node, run);
      expect(res.statusCode).toBe(409);
      expect(res.json().reason).toBe('lease_lost');
    });
  },
);
