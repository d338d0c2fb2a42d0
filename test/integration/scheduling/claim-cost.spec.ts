import { describeEachDatabase } from '../../support/databases';
import { ClaimFixture, claimFixture } from '../../support/claim-fixtures';
import { rowsReadBy } from '../../support/database-fixture';

const QUEUED = 200;
const HISTORY = 300;

/**
 * A claim checks, for every queued task it considers, that the node has not run it already. That check must
 * be one index lookup per task: written as NOT EXISTS it was planned (once, while the node had no runs, and
 * kept by the prepared statement) as a rescan of all of the node's runs per queued task, so a node's claims got
 * slower with every run it finished (77 ms at 3 000 queued and 112 runs, growing). Counted as rows the claim's
 * transaction read from task_runs (pg_stat_xact_user_tables), not as time.
 */
describeEachDatabase('a claim on %s reads task_runs per queued task, not per past run', (database) => {
  let fixture: ClaimFixture;

  beforeAll(async () => {
    fixture = await claimFixture(database, { nodeId: 'veteran', history: HISTORY, queued: QUEUED });
  });

  afterAll(() => fixture?.close());

  const taskRunRowsReadBy = (work: () => Promise<unknown>) => rowsReadBy(fixture, 'task_runs', work);

  it('stays proportional to the queue as the node’s history grows', async () => {
    // Past the prepared statement's first (custom) plans, into the plan it keeps.
    for (let i = 0; i < 6; i++) await fixture.claims.claim('veteran', 1, 1000, 30, null);
    // Negative control: the counter sees a rescan of the node's runs per queued task when one is asked for.
    const rescan = await taskRunRowsReadBy(() =>
      fixture.session.query(
        `SELECT count(*) FROM tasks t
          WHERE t.status = 'pending'
            AND NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.node_id = 'veteran' AND r.task_id::text = t.task_id::text)`,
      ),
    );
    expect(rescan).toBeGreaterThanOrEqual((QUEUED - 6) * HISTORY);

    const read = await taskRunRowsReadBy(async () => {
      const leased = await fixture.claims.claim('veteran', 16, 1000, 30, null);
      expect(leased).toHaveLength(16);
    });
    expect(read).toBeLessThan(QUEUED * 3);
  });
});

const OTHER_OWNERS = 10;

/**
 * A quorum task also asks whether the node's owner holds or delivered a run of it, or ended two for its nodes'
 * fault: lookups by task and owner (task_runs_quorum_owner_key, idx_task_runs_quorum_owner_fault), not reads of
 * the owner's past runs, nor of every failed run of each queued task.
 */
describeEachDatabase(
  'a quorum claim on %s reads task_runs per queued task, not per failed run',
  (database) => {
    let fixture: ClaimFixture;

    beforeAll(async () => {
      fixture = await claimFixture(database, { nodeId: 'veteran', history: HISTORY, queued: QUEUED });
      const { session } = fixture;
      // Its owner's past runs were quorum runs that failed.
      await session.query(
        `UPDATE task_runs SET quorum_run = true, status = 'failed', outcome = 'error' WHERE node_id = 'veteran'`,
      );
      await session.query(
        `UPDATE tasks SET min_nodes = 2, quorum = 2, run_target = 2, max_runs = 4 WHERE status = 'pending'`,
      );
      // Every queued task lost a lease on a node of each of OTHER_OWNERS other owners.
      await session.query(
        `WITH owners AS (
         INSERT INTO users (username, password_hash, role)
         SELECT 'other_' || i, 'x', 'user' FROM generate_series(1, $1::int) AS i RETURNING user_id, username),
       gone AS (
         INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb, status)
         SELECT 'gone_' || username, user_id, 'r', 'compute', 100, 4, 8, 'offline' FROM owners
         RETURNING node_id, owner_id)
       INSERT INTO task_runs (task_id, node_id, node_owner_id, status, outcome, quorum_run, completed_at)
       SELECT t.task_id, g.node_id, g.owner_id, 'expired', 'lease_expired', true, now()
         FROM tasks t CROSS JOIN gone g WHERE t.status = 'pending'`,
        [OTHER_OWNERS],
      );
    });

    afterAll(() => fixture?.close());

    it('looks up the owner’s faults by task and owner, not every failed run of each task', async () => {
      for (let i = 0; i < 6; i++) await fixture.claims.claim('veteran', 1, 1000, 30, null);
      const read = await rowsReadBy(fixture, 'task_runs', async () => {
        const leased = await fixture.claims.claim('veteran', 16, 1000, 30, null);
        expect(leased).toHaveLength(16);
      });
      // A few rows per leased task; reading each task's runs would be OTHER_OWNERS or more per task it looked at.
      expect(read).toBeLessThan(16 * 3);
    });
  },
);
