import { checkInvariants, InvariantResult, Queryable } from '../../bench/chaos/invariants';
import { TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { submitTask } from '../support/tasks';

/**
 * Issue 19 acceptance 2: the invariant checker a chaos run is judged by finds nothing on honest work, and finds
 * each planted violation (a double completion, a stale result accepted, a quorum without its valid runs, a
 * lease left behind) — with the id of what broke.
 */
describe('chaos invariants (PostgreSQL)', () => {
  const ctx = useTestApp({ env: { TASK_RETRY_BASE_MS: '0', SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let alice: Session;
  const db: Queryable = {
    query: async <Row>(text: string, values?: unknown[]) => ({
      rows: await ctx.dataSource.query<Row[]>(text, values),
    }),
  };
  const broken = (results: InvariantResult[]) =>
    Object.fromEntries(results.filter((r) => r.violations > 0).map((r) => [r.name, r.examples]));

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
  });

  it('holds on honest work, and names each planted violation', async () => {
    const agents: TestAgent[] = [];
    for (const name of ['op_a', 'op_b']) {
      agents.push(await TestAgent.register(ctx.app, bearer((await newSession(ctx.app, name)).accessToken)));
    }
    const h = bearer(alice.accessToken);
    const single = await submitTask(ctx.app, h);
    const quorum = await submitTask(ctx.app, h, {
      requirements: { min_nodes: 2, max_execution_time_sec: 60 },
    });
    const first = await agents[0].claim({ max: 2, wait_ms: 0 });
    const second = await agents[1].claim();
    const runs = [...first, ...second];
    expect(runs.map((run) => run.task_id).sort()).toEqual(
      [single.task_id, quorum.task_id, quorum.task_id].sort(),
    );
    for (const run of first) expect((await agents[0].report(run, 'ok', { sum: 6 })).statusCode).toBe(200);
    for (const run of second) expect((await agents[1].report(run, 'ok', { sum: 6 })).statusCode).toBe(200);
    const ids = [single.task_id, quorum.task_id];
    expect(broken(await checkInvariants(db, ids))).toEqual({});

    // Planted: the single task completed a second time.
    await ctx.dataSource.query(
      `UPDATE tasks SET status = 'running', completed_at = NULL WHERE task_id = $1`,
      [single.task_id],
    );
    await ctx.dataSource.query(
      `UPDATE tasks SET status = 'completed', completed_at = now() WHERE task_id = $1`,
      [single.task_id],
    );
    // Planted: a quorum run accepted after its lease was withdrawn, and the quorum short of valid runs.
    const quorumRun = runs.find((run) => run.task_id === quorum.task_id)!;
    await ctx.dataSource.query(`UPDATE task_runs SET status = 'expired' WHERE run_id = $1`, [
      quorumRun.run_id,
    ]);
    await ctx.dataSource.query(`UPDATE task_runs SET status = 'succeeded' WHERE run_id = $1`, [
      quorumRun.run_id,
    ]);
    await ctx.dataSource.query(`UPDATE task_runs SET verdict = 'invalid' WHERE run_id = $1`, [
      quorumRun.run_id,
    ]);
    // Planted: a task leased and never answered.
    const open = await submitTask(ctx.app, h);
    expect(await agents[0].claim()).toHaveLength(1);

    const found = broken(await checkInvariants(db, [...ids, open.task_id]));
    expect(found).toEqual({
      'no task completed twice': [single.task_id],
      'no stale result accepted': [quorumRun.run_id],
      'runs as verification needs': [quorum.task_id],
      'every task terminal': [open.task_id],
      'no leases left': [expect.any(String)],
    });
  });
});
