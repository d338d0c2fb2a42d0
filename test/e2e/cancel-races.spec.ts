import { Client } from 'pg';
import type { DatabaseSession } from '../../src/database/transaction-runner';
import { ClaimsRepository } from '../../src/scheduling/claims.repository';
import { TasksRepository } from '../../src/tasks/tasks.repository';
import { TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { submitTask } from '../support/tasks';
import { OutagesConfig } from '../../src/outages/outages.config';

/** The default setting: no outage is under way in these tests (the clock is fresh or never moved). */
const OUTAGES = new OutagesConfig({ creditAfterMs: 10_000 });

/**
 * A cancel withdraws every lease its task holds, including one a claim committed while the cancel waited for
 * the task's row: that run's node is told to stop at its next heartbeat (cancel), and the run does not stay
 * leased on a cancelled task.
 */
describe('a cancel racing a claim (PostgreSQL)', () => {
  const ctx = useTestApp({ env: { SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  it('a run leased while the cancel waited for the task is cancelled with it', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const claimer = new Client({ connectionString: ctx.db!.url });
    await claimer.connect();
    try {
      // The real claim statement, in a transaction held open: it has leased the task and holds its row.
      const session = {
        queryPrepared: async (_name: string, sql: string, values: unknown[]) =>
          (await claimer.query(sql, values)).rows,
      } as unknown as DatabaseSession;
      await claimer.query('BEGIN');
      const [run] = await new ClaimsRepository(session, OUTAGES).claim(agent.nodeId, 1, 4, 60, null);
      expect(run.taskId).toBe(task.task_id);
      // Started now (an injected request is sent once awaited).
      const cancel = Promise.resolve(
        ctx.app.inject({
          method: 'POST',
          url: `/api/v1/tasks/${task.task_id}/cancel`,
          headers: bearer(alice.accessToken),
        }),
      );
      // The cancel's statement started before the claim committed, and waits for the task's row.
      await eventually(async () => {
        // Inside the claimer's transaction, which would otherwise keep its first snapshot of the activity view.
        await claimer.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await claimer.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE tasks SET status = ''cancelled''%'`,
        );
        expect(rows[0].n).toBe(1);
      });
      await claimer.query('COMMIT');
      const res = await cancel;
      expect(res.statusCode).toBe(200);
      expect(res.json().status).toBe('cancelled');
      const [row] = await ctx.dataSource.query(`SELECT status FROM task_runs WHERE run_id = $1`, [run.runId]);
      expect(row.status).toBe('cancelled');
      const heartbeat = await agent.heartbeat([{ run_id: run.runId, fence: run.fence }]);
      expect(heartbeat.json().leases).toEqual({ renewed: [], lost: [], cancel: [run.runId] });
    } finally {
      await claimer.end();
    }
  });
});

describe('two deletes of one task (PostgreSQL)', () => {
  const ctx = useTestApp({ env: { SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });

  it('one deletes it and writes the audit row; the other is the 404 of a deleted task', async () => {
    const alice = await newSession(ctx.app, 'alice_del');
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    // Both requests find the task live before either deletes it: the race, made certain.
    const tasks = ctx.app.get(TasksRepository);
    let arrived = 0;
    let bothArrived!: () => void;
    const barrier = new Promise<void>((resolve) => (bothArrived = resolve));
    jest.spyOn(tasks, 'findLive').mockImplementation(async (...args) => {
      const found = await TasksRepository.prototype.findLive.apply(tasks, args);
      if (++arrived === 2) bothArrived();
      await barrier;
      return found;
    });
    const answers = await Promise.all(
      [1, 2].map(() =>
        ctx.app.inject({
          method: 'DELETE',
          url: `/api/v1/tasks/${task.task_id}`,
          headers: bearer(alice.accessToken),
        }),
      ),
    );
    jest.mocked(tasks.findLive).mockRestore();
    expect(answers.map((res) => res.statusCode).sort()).toEqual([200, 404]);
    const rows: unknown[] = await ctx.dataSource.query(
      `SELECT 1 FROM audit_log WHERE action = 'task.deleted' AND resource_id = $1`,
      [task.task_id],
    );
    expect(rows).toHaveLength(1);
  });
});

describe('two runs of one task given back at once (PostgreSQL)', () => {
  const ctx = useTestApp({ env: { SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });

  it('the second release judges the attempts left on the row the first one changed: the task fails', async () => {
    const alice = await newSession(ctx.app, 'alice_rel');
    // Two runs needed, two attempts allowed, both used by the two claims: neither run may fail.
    const task = await submitTask(ctx.app, bearer(alice.accessToken), {
      priority: 9,
      max_attempts: 2,
      requirements: { min_nodes: 2, max_execution_time_sec: 60 },
    });
    const runIds: string[] = [];
    for (const name of ['op_rel_a', 'op_rel_b']) {
      const owner = await newSession(ctx.app, name);
      const [run] = await (await TestAgent.register(ctx.app, bearer(owner.accessToken))).claim();
      expect(run.task_id).toBe(task.task_id);
      runIds.push(run.run_id);
    }
    const first = new Client({ connectionString: ctx.db!.url });
    await first.connect();
    try {
      const session = {
        query: async (sql: string, values: unknown[]) => (await first.query(sql, values)).rows,
      } as unknown as DatabaseSession;
      // The first release, in a transaction held open: it has given back its run and holds the task's row.
      await first.query('BEGIN');
      expect(
        await new TasksRepository(session).releaseSlot({ taskId: task.task_id, runId: runIds[0] }, 0),
      ).toBe('running');
      const second = ctx.app.get(TasksRepository).releaseSlot({ taskId: task.task_id, runId: runIds[1] }, 0);
      await eventually(async () => {
        await first.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await first.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND query LIKE '%active_runs = active_runs - 1%'`,
        );
        expect(rows[0].n).toBe(1);
      });
      await first.query('COMMIT');
      expect(await second).toBe('failed');
      const [row] = await ctx.dataSource.query(
        `SELECT status, status_reason, active_runs FROM tasks WHERE task_id = $1`,
        [task.task_id],
      );
      expect(row).toEqual({ status: 'failed', status_reason: 'attempts_exhausted', active_runs: 0 });
    } finally {
      await first.end();
    }
  });
});
