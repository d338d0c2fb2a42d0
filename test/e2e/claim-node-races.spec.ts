import { Client } from 'pg';
import type { DatabaseSession } from '../../src/database/transaction-runner';
import { ClaimsRepository } from '../../src/scheduling/claims.repository';
import { TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { submitTask } from '../support/tasks';
import { OutagesConfig } from '../../src/outages/outages.config';

/** The default setting: no outage is under way in these tests (the clock is fresh or never moved). */
const OUTAGES = new OutagesConfig({ creditAfterMs: 10_000 });

/**
 * A claim racing the loss of its node (a delete, a quarantine): whichever commits second sees the other, so no
 * run is left leased to a node that may no longer claim, to wait out its lease. Each race is made certain by a
 * transaction held open on one side while the other starts.
 */
describe('a claim racing its node’s delete or quarantine (PostgreSQL)', () => {
  const ctx = useTestApp({ env: { SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let alice: Session;
  let bob: Session;
  let holder: Client;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });
  beforeEach(async () => {
    await ctx.dataSource.query(
      `UPDATE tasks SET status = 'cancelled' WHERE status IN ('pending', 'running')`,
    );
    holder = new Client({ connectionString: ctx.db!.url });
    await holder.connect();
  });
  afterEach(async () => {
    await holder.end();
  });

  /** Statements of other sessions waiting for a lock whose text contains `fragment`. */
  const waitingOnLock = async (fragment: string): Promise<number> => {
    // Inside the holder's transaction, which would otherwise keep its first snapshot of the activity view.
    await holder.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await holder.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND position($1 IN query) > 0`,
      [fragment],
    );
    return rows[0].n;
  };
  const leasedTo = async (nodeId: string): Promise<string[]> =>
    (
      await ctx.dataSource.query(`SELECT run_id FROM task_runs WHERE node_id = $1 AND status = 'leased'`, [
        nodeId,
      ])
    ).map((row: { run_id: string }) => row.run_id);

  const LOSSES = [
    {
      loss: 'quarantine',
      sql: `UPDATE nodes SET quarantined_at = now(), quarantine_reason = 'test' WHERE node_id = $1`,
      answer: [403, 'node_quarantined'],
    },
    {
      loss: 'delete',
      sql: `UPDATE nodes SET deleted_at = now(), updated_at = now() WHERE node_id = $1`,
      answer: [204, undefined],
    },
  ] as const;

  it.each(LOSSES)(
    'a claim that started while the $loss was uncommitted leases nothing once it commits',
    async ({ sql, answer }) => {
      await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
      const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
      await holder.query('BEGIN');
      await holder.query(sql, [agent.nodeId]);
      // The loss's release of the node's leases, in its transaction: nothing is leased yet.
      await holder.query(
        `UPDATE task_runs SET status = 'expired', outcome = 'node_lost', completed_at = now()
          WHERE node_id = $1 AND status = 'leased'`,
        [agent.nodeId],
      );
      let settled = false;
      const claim = agent.claimRaw({ max: 1, wait_ms: 0 }).finally(() => (settled = true));
      // The claim either waits for the node's row or (unguarded) has already leased from its snapshot.
      await eventually(async () => expect(settled || (await waitingOnLock('replayed AS')) === 1).toBe(true));
      await holder.query('COMMIT');
      const res = await claim;
      expect([res.statusCode, res.statusCode === 204 ? undefined : res.json().reason]).toEqual(answer);
      expect(await leasedTo(agent.nodeId)).toEqual([]);
    },
  );

  it('the control: the same claim leases the task once the held change rolls back', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    await holder.query('BEGIN');
    await holder.query(LOSSES[0].sql, [agent.nodeId]);
    const claim = agent.claim({ max: 1, wait_ms: 0 });
    await eventually(async () => expect(await waitingOnLock('replayed AS')).toBe(1));
    await holder.query('ROLLBACK');
    const [run] = await claim;
    expect(run.task_id).toBe(task.task_id);
    expect((await agent.report(run, 'ok', 1)).statusCode).toBe(200);
  });

  // The other order. It held before the claim locked its node too (the delete's locking read of the node waits
  // for the key-share lock the run's foreign key takes); kept so that stays true.
  it('a delete that started while the claim was uncommitted releases the run that claim leased', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    // The real claim statement, in a transaction held open: it has leased the task.
    const session = {
      queryPrepared: async (_name: string, sql: string, values: unknown[]) =>
        (await holder.query(sql, values)).rows,
    } as unknown as DatabaseSession;
    await holder.query('BEGIN');
    const [run] = await new ClaimsRepository(session, OUTAGES).claim(agent.nodeId, 1, 4, 60, null);
    expect(run.taskId).toBe(task.task_id);
    let settled = false;
    const deletion = Promise.resolve(
      ctx.app.inject({
        method: 'DELETE',
        url: `/api/v1/nodes/${agent.nodeId}`,
        headers: bearer(bob.accessToken),
      }),
    ).finally(() => (settled = true));
    // The delete either waits for the node's row (its locking read of the node) or, unguarded, has already
    // committed without this run.
    await eventually(async () =>
      expect(settled || (await waitingOnLock('OR owner_id = $2::uuid')) === 1).toBe(true),
    );
    await holder.query('COMMIT');
    expect((await deletion).statusCode).toBe(200);
    const [row] = await ctx.dataSource.query(`SELECT status, outcome FROM task_runs WHERE run_id = $1`, [
      run.runId,
    ]);
    expect(row).toEqual({ status: 'expired', outcome: 'node_lost' });
  });
});
