import type { DatabaseSession } from '../../../src/database/transaction-runner';
import { EndedLeasesRepository } from '../../../src/scheduling/ended-leases.repository';
import { TasksRepository } from '../../../src/tasks/tasks.repository';
import {
  DatabaseFixture,
  databaseFixture,
  insertNodeOwner,
  rowsReadBy,
} from '../../support/database-fixture';
import { describeEachDatabase } from '../../support/databases';

const QUEUED = 400;
const LEASED = 400;
const DUE = 5;
/** A node that died holding many leases: each of them runs out in the same sweep. */
const DUE_LEASES = 100;

/** The queue-timeout statement as it was: `IN (SELECT … LIMIT … FOR UPDATE SKIP LOCKED)` plus the conditions. */
const NESTED_EXPIRE_QUEUED = `
  UPDATE tasks SET status = 'failed', status_reason = 'queue_timeout', completed_at = now(), updated_at = now()
   WHERE task_id IN (SELECT task_id FROM tasks
                      WHERE status = 'pending' AND queue_expires_at <= now() AND active_runs = 0
                      LIMIT 200 FOR UPDATE SKIP LOCKED)
     AND status = 'pending' AND active_runs = 0`;

/**
 * The lease sweeper runs on every replica every few seconds, on the embedded server's only thread. Its two
 * batch updates must read the queue (and the leased runs) a bounded number of times, not once per queued task:
 * on a database without statistics (PGlite until EmbeddedVacuum's first pass, PostgreSQL until autovacuum's) the
 * `IN (SELECT …)` form was planned as a nested loop that re-ran the subquery for every pending task — 420 ms at
 * 1 000 pending on PGlite, 180 ms on PostgreSQL (here: 160 390 rows read for 400 queued); the leases' form re-ran
 * its subquery per leased run when many ran out at once (5 450 rows for 100 of 400). Counted as rows read
 * (pg_stat_xact_user_tables), not as time; each bound below fails with the old statement.
 */
describeEachDatabase('the lease sweeper on %s reads the queue a bounded number of times', (database) => {
  let fixture: DatabaseFixture;
  let session: DatabaseSession;

  beforeAll(async () => {
    fixture = await databaseFixture(database, [TasksRepository, EndedLeasesRepository]);
    session = fixture.session;
    // Estimates stay those of a fresh table for the whole test: no autovacuum analyzes it halfway.
    for (const table of ['tasks', 'task_runs']) {
      await session.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
    }
    const user_id = await insertNodeOwner(session, { username: 'sweeper', nodeId: 'busy' });
    await session.query(
      `INSERT INTO tasks (creator_id, task_type, max_execution_time_sec, queue_expires_at)
       SELECT $1, 'computation', 60, now() + interval '1 hour' FROM generate_series(1, $2::int)`,
      [user_id, QUEUED],
    );
    await session.query(
      `WITH running AS (
         INSERT INTO tasks (creator_id, task_type, max_execution_time_sec, status, active_runs)
         SELECT $1, 'computation', 60, 'running', 1 FROM generate_series(1, $2::int) RETURNING task_id)
       INSERT INTO task_runs (task_id, node_id, node_owner_id, status, lease_expires_at, lease_slot)
       SELECT task_id, 'busy', $1, 'leased', now() + interval '1 hour', row_number() OVER () FROM running`,
      [user_id, LEASED],
    );
  });

  afterAll(() => fixture?.close());

  it('fails the tasks past their queue timeout with reads proportional to the queue', async () => {
    // Negative control: the nested form, on these same fresh tables, reads the queue once per queued task.
    const nested = await rowsReadBy(fixture, 'tasks', () => session.query(NESTED_EXPIRE_QUEUED));
    expect(nested).toBeGreaterThanOrEqual(QUEUED * (QUEUED / 2));

    await session.query(
      `UPDATE tasks SET queue_expires_at = now() - interval '1 minute'
        WHERE task_id IN (SELECT task_id FROM tasks WHERE status = 'pending' ORDER BY task_id LIMIT $1)`,
      [DUE],
    );
    let failed: { taskId: string }[] = [];
    const read = await rowsReadBy(fixture, 'tasks', async () => {
      failed = await fixture.tx.run(() => fixture.moduleRef.get(TasksRepository).expireQueued(200));
    });
    expect(failed).toHaveLength(DUE);
    // The pending tasks and the running ones (quorum tasks seeking a run time out too), each read a few times.
    expect(read).toBeLessThan((QUEUED + LEASED) * 2);
    const [{ n }] = await session.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM tasks WHERE status = 'failed' AND status_reason = 'queue_timeout'`,
    );
    expect(n).toBe(DUE);
  });

  it('ends the leases past their time with reads proportional to the leased runs', async () => {
    await session.query(
      `UPDATE task_runs SET lease_expires_at = now() - interval '1 second'
        WHERE run_id IN (SELECT run_id FROM task_runs WHERE status = 'leased' ORDER BY run_id LIMIT $1)`,
      [DUE_LEASES],
    );
    let ended: unknown[] = [];
    const read = await rowsReadBy(fixture, 'task_runs', async () => {
      ended = await fixture.moduleRef.get(EndedLeasesRepository).expireLeases(200, 10);
    });
    expect(ended).toHaveLength(DUE_LEASES);
    expect(read).toBeLessThan(LEASED * 3);
    const [{ n }] = await session.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM task_runs WHERE status = 'expired' AND outcome = 'lease_expired'`,
    );
    expect(n).toBe(DUE_LEASES);
  });
});
