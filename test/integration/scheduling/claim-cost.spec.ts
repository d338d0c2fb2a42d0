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
