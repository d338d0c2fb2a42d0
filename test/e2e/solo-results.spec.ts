import { Client } from 'pg';
import { generateNodeKeyPair } from '../../src/common/receipts/receipt';
import { LeasedRuns } from '../../src/scheduling/leased-runs';
import { RunsRepository } from '../../src/scheduling/runs.repository';
import { TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { eventually } from '../support/eventually';
import { getTask, submitTask } from '../support/tasks';
import { useTestApp } from '../support/app';

/**
 * An ok result that completes its task alone is recorded without a transaction, after an unlocked read
 * (RunResultService.soloCompletion). Its one write must re-check what the read saw: the lease and the task
 * still open; otherwise it writes nothing and the locked path answers.
 */
describeEachDatabase('a result that completes its task alone, on %s', (database) => {
  const ctx = useTestApp({ database, env: { SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  async function leasedTask() {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await agent.claim();
    expect(run.task_id).toBe(task.task_id);
    return { task, agent, run };
  }

  const runRow = (runId: string) =>
    ctx.dataSource
      .query(`SELECT status, outcome FROM task_runs WHERE run_id = $1`, [runId])
      .then((rows: { status: string; outcome: string | null }[]) => rows[0]);

  it('its write records nothing when the task is no longer open', async () => {
    const { task, run } = await leasedTask();
    await ctx.dataSource.query(`UPDATE tasks SET status = 'cancelled' WHERE task_id = $1`, [task.task_id]);
    const recorded = await ctx.app.get(RunsRepository).finish(run.run_id, run.fence, {
      status: 'succeeded',
      outcome: 'ok',
      output: { result: 6 },
      outputHash: '0'.repeat(64),
      stdout: null,
      stderr: null,
      exitCode: 0,
      executionTimeMs: 1,
      gasUsed: null,
      requestHash: '0'.repeat(64),
      response: {},
      receipt: {},
      signature: 'x',
      nodePublicKey: 'x',
      verdict: null,
      completion: { taskId: task.task_id, output: { result: 6 } },
    });
    expect(recorded).toBe(false);
    expect(await runRow(run.run_id)).toEqual({ status: 'leased', outcome: null });
    const [row] = await ctx.dataSource.query(`SELECT status, result FROM tasks WHERE task_id = $1`, [
      task.task_id,
    ]);
    expect(row).toEqual({ status: 'cancelled', result: null });
  });

  it('a result on a replica that did not lease the run reads it, and completes the task as well', async () => {
    const { task, agent, run } = await leasedTask();
    expect(ctx.app.get(LeasedRuns).take(run.run_id)?.runId).toBe(run.run_id); // as if leased elsewhere
    const res = await agent.report(run, 'ok', { result: 6 });
    expect(res.json()).toMatchObject({ run_status: 'succeeded', task_status: 'completed' });
    expect(await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).toMatchObject({
      status: 'completed',
      result: { result: 6 },
    });
  });

  it('a node key replaced after the lease: the remembered key no longer counts, the result is refused', async () => {
    const { task, agent, run } = await leasedTask();
    // The remembered facts hold the old key, which signed this result; the node's registered key is now another.
    await ctx.dataSource.query(`UPDATE nodes SET public_key = $1 WHERE node_id = $2`, [
      generateNodeKeyPair().publicKeyBase64,
      agent.nodeId,
    ]);
    const res = await agent.report(run, 'ok', { result: 6 });
    expect(res.statusCode).toBe(422);
    expect(res.json().reason).toBe('signature_invalid');
    // Refused, the lease is given back (the node cannot deliver it) and the task queued again.
    expect(await runRow(run.run_id)).toEqual({ status: 'expired', outcome: 'signature_invalid' });
    expect((await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).status).toBe('pending');
    await ctx.dataSource.query(`UPDATE tasks SET status = 'cancelled' WHERE task_id = $1`, [task.task_id]);
  });

  if (database !== 'postgres') return;

  it('a task cancelled while its result is being written stays cancelled; the locked path answers', async () => {
    const { task, agent, run } = await leasedTask();
    const canceller = new Client({ connectionString: ctx.db!.url });
    await canceller.connect();
    try {
      await canceller.query('BEGIN');
      await canceller.query(`UPDATE tasks SET status = 'cancelled' WHERE task_id = $1`, [task.task_id]);
      const answer = agent.report(run, 'ok', { result: 6 });
      // The result's unlocked read saw the task open (the cancel is not committed); its write now waits for
      // the task's lock: this is the race the write's re-check is for.
      await eventually(async () => {
        // Inside the canceller's transaction, which would otherwise keep its first snapshot of the activity view.
        await canceller.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await canceller.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH open_task AS%'`,
        );
        expect(rows[0].n).toBe(1);
      });
      await canceller.query('COMMIT');
      const res = await answer;
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ run_status: 'succeeded', task_status: 'cancelled' });
    } finally {
      await canceller.end();
    }
    expect(await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).toMatchObject({
      status: 'cancelled',
      result: null,
    });
    expect(await runRow(run.run_id)).toEqual({ status: 'succeeded', outcome: 'ok' });
  });
});
