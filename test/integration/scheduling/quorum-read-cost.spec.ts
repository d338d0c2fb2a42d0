import { RunsRepository } from '../../../src/scheduling/runs.repository';
import { ClaimFixture, claimFixture } from '../../support/claim-fixtures';
import { rowsReadBy } from '../../support/database-fixture';
import { OutagesConfig } from '../../../src/outages/outages.config';

/** The default setting: no outage is under way in these tests (the clock is fresh or never moved). */
const OUTAGES = new OutagesConfig({ creditAfterMs: 10_000 });

const HISTORY = 400;

/**
 * On the embedded database a quorum result's locked read also lists the task's succeeded runs. With the status
 * in that subquery's WHERE, a plan made while the database had no statistics read every succeeded run of every
 * task through idx_task_runs_status, per result. Counted as rows read from task_runs (pg_stat_xact_user_tables).
 */
describe('a quorum result’s locked read on PGlite', () => {
  let fixture: ClaimFixture;

  beforeAll(async () => {
    fixture = await claimFixture('pglite', { nodeId: 'veteran', history: HISTORY, queued: 12 });
    await fixture.session.query(
      `UPDATE tasks SET min_nodes = 2, quorum = 2, run_target = 2, max_runs = 4 WHERE status = 'pending'`,
    );
  });

  afterAll(() => fixture?.close());

  it('reads the task’s own runs, not every succeeded run', async () => {
    const runs = await fixture.claims.claim('veteran', 12, 12, 300, null);
    expect(runs).toHaveLength(12);
    const repository = new RunsRepository(fixture.session, OUTAGES);
    const reads: number[] = [];
    // Past the prepared statement's first five executions, when PostgreSQL settles on a generic plan.
    for (const run of runs) {
      reads.push(
        await rowsReadBy(fixture, 'task_runs', async () => {
          const read = await repository.lockForResult(run.runId);
          expect(read?.succeededSoFar).toEqual([]);
        }),
      );
    }
    // Each read: the run and the task’s own runs (one here). The old plan read all 400 succeeded runs (401).
    expect(Math.max(...reads)).toBeLessThan(20);
  });
});
