import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { LeasedRun, signedResult, TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { getTask, submitTask } from '../support/tasks';
import { ClaimService } from '../../src/scheduling/claim.service';
import { ClaimedRun, ClaimsRepository } from '../../src/scheduling/claims.repository';
import { RunRelease } from '../../src/scheduling/run-release';
import { SchedulingConfig } from '../../src/scheduling/scheduling.config';

/**
 * An agent that stops or restarts during a long-poll claim closes its connection. The claim must stop with it:
 * a run leased to it afterwards would wait out its lease (30 s by default) and count as lost against the node.
 */
describe('a claim whose caller went away', () => {
  const ctx = useTestApp({ database: 'pglite' });
  let alice: Session;
  let bob: Session;
  let baseUrl: string;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
    await ctx.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(ctx.app.getHttpServer().address() as AddressInfo).port}`;
  });

  it('stops waiting and leases nothing; the next submission goes to a claim that is still there', async () => {
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    await agent.abandonClaim(baseUrl);
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const [run] = await agent.claim({ max: 1, wait_ms: 2_000 });
    expect(run?.task_id).toBe(task.task_id);
    expect((await agent.report(run, 'ok', 1)).statusCode).toBe(200);
    const done = await getTask(ctx.app, task.task_id, bearer(alice.accessToken));
    expect(done.status).toBe('completed');
    expect(done.runs).toHaveLength(1);
  });
});

/**
 * The caller goes away while the claim statement itself runs (held here behind a lock on the node's row, which
 * the claim reads FOR SHARE): the statement then commits its leases for nobody. They are handed back at once.
 */
describe('a claim whose caller went away while its statement ran (PostgreSQL)', () => {
  const ctx = useTestApp({ env: { SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let alice: Session;
  let bob: Session;
  let baseUrl: string;
  let holder: Client;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
    await ctx.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(ctx.app.getHttpServer().address() as AddressInfo).port}`;
  });
  // Per test: the app's teardown drops the database, which would end a holder still connected.
  beforeEach(async () => {
    holder = new Client({ connectionString: ctx.db!.url });
    await holder.connect();
  });
  afterEach(() => holder.end());

  const claimsWaitingOnLock = async (): Promise<number> => {
    await holder.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await holder.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND position('replayed AS' IN query) > 0`,
    );
    return rows[0].n;
  };
  const openConnections = () =>
    new Promise<number>((resolve, reject) =>
      ctx.app.getHttpServer().getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );

  it('hands back what it leased: the task is queued at once, its attempt not spent', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const gone = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM nodes WHERE node_id = $1 FOR UPDATE`, [gone.nodeId]);
    const req = gone.openClaim(baseUrl);
    await eventually(async () => expect(await claimsWaitingOnLock()).toBe(1));
    req.destroy();
    // The server has seen the connection close before the statement can go on.
    await eventually(async () => expect(await openConnections()).toBe(0));
    await holder.query('COMMIT');

    // The statement leased the task, then gave it back: ended, not left leased for its lease's 30 s.
    await eventually(async () => {
      const runs = await ctx.dataSource.query<{ status: string; outcome: string }[]>(
        `SELECT status, outcome FROM task_runs WHERE task_id = $1`,
        [task.task_id],
      );
      expect(runs).toEqual([{ status: 'expired', outcome: 'claim_abandoned' }]);
    });
    const [{ status, attempts }] = await ctx.dataSource.query<{ status: string; attempts: number }[]>(
      `SELECT status, attempts FROM tasks WHERE task_id = $1`,
      [task.task_id],
    );
    expect({ status, attempts }).toEqual({ status: 'pending', attempts: 0 });
    const other = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await other.claim({ max: 1, wait_ms: 0 });
    expect(run?.task_id).toBe(task.task_id);
    expect((await other.report(run, 'ok', 1)).statusCode).toBe(200);
    expect((await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).status).toBe('completed');
  });

  it("leases nothing with a result's Claim-Next once its caller went away while the result waited", async () => {
    const first = await submitTask(ctx.app, bearer(alice.accessToken));
    const next = await submitTask(ctx.app, bearer(alice.accessToken));
    const gone = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await gone.claim({ max: 1, wait_ms: 0 });
    expect(run.task_id).toBe(first.task_id);
    // The result waits on the run's row (as on a frozen database), and its agent is killed meanwhile.
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM task_runs WHERE run_id = $1 FOR UPDATE`, [run.run_id]);
    const body = JSON.stringify(signedResult(run, 'ok', 1, gone.keys.privateKey));
    const req = request(`${baseUrl}/api/v1/runs/${run.run_id}/result`, {
      method: 'POST',
      headers: {
        'x-api-key': gone.node.node_api_key,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'claim-next': '1',
      },
    });
    req.on('error', () => undefined); // the client's own destroy
    req.end(body);
    const resultsWaitingOnLock = async () => {
      await holder.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await holder.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE task_runs%'`,
      );
      return rows[0].n;
    };
    await eventually(async () => expect(await resultsWaitingOnLock()).toBe(1));
    req.destroy();
    await eventually(async () => expect(await openConnections()).toBe(0));
    await holder.query('COMMIT');

    // The result is recorded (its work was done); the next task is not leased to the node that is gone.
    await eventually(async () =>
      expect((await getTask(ctx.app, first.task_id, bearer(alice.accessToken))).status).toBe('completed'),
    );
    const leased = await ctx.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM task_runs WHERE node_id = $1 AND status = 'leased'`,
      [gone.nodeId],
    );
    expect(leased[0].n).toBe(0);
    const waiting = await getTask(ctx.app, next.task_id, bearer(alice.accessToken));
    expect({ status: waiting.status, attempts: waiting.attempts }).toEqual({
      status: 'pending',
      attempts: 0,
    });
    // A caller still there gets its next run with the result (negative control).
    const third = await submitTask(ctx.app, bearer(alice.accessToken));
    const other = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [again] = await other.claim({ max: 1, wait_ms: 0 });
    expect(again.task_id).toBe(next.task_id);
    const answer = await other.report(again, 'ok', 1, {}, { 'claim-next': '1' });
    expect(answer.statusCode).toBe(200);
    expect(answer.json<{ next_runs: { task_id: string }[] }>().next_runs.map((r) => r.task_id)).toEqual([
      third.task_id,
    ]);
  });

  /**
   * The abandoned claim's hand-back races its own caller's retry: the agent timed out, and its retry with the
   * same Idempotency-Key was answered with the same runs, its statement running before or after the abandoned
   * one's (another replica, a thaw). Called here in each order (the statements, then the abandoned claim's
   * hand-back), deterministically.
   */
  describe('a retry of an abandoned claim', () => {
    const runStatus = async (runId: string) =>
      (
        await ctx.dataSource.query<{ status: string; outcome: string | null }[]>(
          `SELECT status, outcome FROM task_runs WHERE run_id = $1`,
          [runId],
        )
      )[0];
    const leaseFor = async (agent: TestAgent, key: string) => {
      const { maxConcurrentRuns, leaseSecs } = ctx.app.get(SchedulingConfig);
      const runs = await ctx.app
        .get(ClaimsRepository)
        .claim(agent.nodeId, 1, maxConcurrentRuns, leaseSecs, key);
      expect(runs).toHaveLength(1);
      return runs[0];
    };
    const handBack = (run: { runId: string; taskId: string; fence: string }) =>
      ctx.app.get(RunRelease).handBack([run]);

    /** The abandoned claim's hand-back leaves the run leased; the retry's agent reports it and the task completes. */
    const handBackLeavesItToTheRetry = async (
      abandoned: ClaimedRun,
      agent: TestAgent,
      retried: LeasedRun,
      taskId: string,
    ) => {
      await handBack(abandoned);
      expect(await runStatus(retried.run_id)).toEqual({ status: 'leased', outcome: null });
      expect((await agent.report(retried, 'ok', 1)).statusCode).toBe(200);
      expect((await getTask(ctx.app, taskId, bearer(alice.accessToken))).status).toBe('completed');
    };

    it('keeps the run leased to the retry answered after the abandoned claim', async () => {
      const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
      const task = await submitTask(ctx.app, bearer(alice.accessToken));
      const abandoned = await leaseFor(agent, 'retried-after');
      expect(abandoned.taskId).toBe(task.task_id);
      const [retried] = await agent.claim({ max: 1, wait_ms: 0 }, { 'idempotency-key': 'retried-after' });
      expect({ run: retried.run_id, fence: retried.fence }).toEqual({
        run: abandoned.runId,
        fence: abandoned.fence,
      });
      await handBackLeavesItToTheRetry(abandoned, agent, retried, task.task_id);
    });

    it('keeps the run leased to the retry answered before the abandoned claim', async () => {
      const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
      const task = await submitTask(ctx.app, bearer(alice.accessToken));
      const [retried] = await agent.claim({ max: 1, wait_ms: 0 }, { 'idempotency-key': 'retried-before' });
      expect(retried.task_id).toBe(task.task_id);
      const abandoned = await leaseFor(agent, 'retried-before');
      expect({ run: abandoned.runId, replayed: abandoned.replayed }).toEqual({
        run: retried.run_id,
        replayed: true,
      });
      await handBackLeavesItToTheRetry(abandoned, agent, retried, task.task_id);
    });

    it('ends the lease once every claim answered with it has handed it back (negative controls)', async () => {
      const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
      await submitTask(ctx.app, bearer(alice.accessToken));
      const alone = await leaseFor(agent, 'no-retry');
      await handBack(alone);
      expect(await runStatus(alone.runId)).toEqual({ status: 'expired', outcome: 'claim_abandoned' });
      const [{ status, attempts }] = await ctx.dataSource.query<{ status: string; attempts: number }[]>(
        `SELECT status, attempts FROM tasks WHERE task_id = $1`,
        [alone.taskId],
      );
      expect({ status, attempts }).toEqual({ status: 'pending', attempts: 0 });

      const other = await TestAgent.register(ctx.app, bearer(bob.accessToken));
      const first = await leaseFor(other, 'both-gone');
      const repeat = await leaseFor(other, 'both-gone');
      expect({ run: repeat.runId, replayed: repeat.replayed }).toEqual({ run: first.runId, replayed: true });
      await handBack(repeat);
      expect(await runStatus(first.runId)).toEqual({ status: 'leased', outcome: null });
      await handBack(first);
      expect(await runStatus(first.runId)).toEqual({ status: 'expired', outcome: 'claim_abandoned' });
      // A hand-back of a lease already ended changes nothing.
      await handBack(first);
      expect(await runStatus(first.runId)).toEqual({ status: 'expired', outcome: 'claim_abandoned' });
    });
  });

  it("hands back what a result's Claim-Next leased when its caller left during the claim statement", async () => {
    const claims = ctx.app.get(ClaimService);
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    await submitTask(ctx.app, bearer(alice.accessToken));
    // The caller is there when the claim starts and gone when it ends (its connection closed meanwhile).
    let looks = 0;
    const goneAfterTheClaim = () => ++looks > 1;
    expect(await claims.claimNext(agent.nodeId, 1, undefined, goneAfterTheClaim)).toEqual([]);
    expect(looks).toBe(2);
    const runs = await ctx.dataSource.query<{ task_id: string; status: string; outcome: string }[]>(
      `SELECT task_id, status, outcome FROM task_runs WHERE node_id = $1`,
      [agent.nodeId],
    );
    expect(runs).toEqual([expect.objectContaining({ status: 'expired', outcome: 'claim_abandoned' })]);
    const [{ status, attempts }] = await ctx.dataSource.query<{ status: string; attempts: number }[]>(
      `SELECT status, attempts FROM tasks WHERE task_id = $1`,
      [runs[0].task_id],
    );
    expect({ status, attempts }).toEqual({ status: 'pending', attempts: 0 });
    // Negative control: a caller still there gets the run.
    const other = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await claims.claimNext(other.nodeId, 1, undefined, () => false);
    expect(run?.task_id).toBe(runs[0].task_id);
  });
});
