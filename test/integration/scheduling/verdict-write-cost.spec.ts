import { ReputationRepository } from '../../../src/scheduling/reputation.repository';
import { ClaimFixture, claimFixture } from '../../support/claim-fixtures';
import { rowsReadBy } from '../../support/database-fixture';

const HISTORY = 400;

/**
 * The deciding quorum result writes the earlier runs' verdicts and the nodes' records in one statement. On the
 * embedded database, which never gathers statistics, its generic plan found the runs to mark by reading every
 * run of every task: the write grew with the history (0.5 → 1.8 ms a quorum task in the verification bench,
 * bench/README.md). Counted as rows read from task_runs (pg_stat_xact_user_tables), so no timing is involved.
 */
describe('a quorum decision’s verdict write on PGlite', () => {
  let fixture: ClaimFixture;
  let runIds: string[];
  let taskIds: string[];

  beforeAll(async () => {
    fixture = await claimFixture('pglite', { nodeId: 'veteran', history: HISTORY, queued: 0 });
    const rows = await fixture.session.query<{ run_id: string; task_id: string }>(
      `SELECT run_id, task_id FROM task_runs ORDER BY run_id LIMIT 12`,
    );
    runIds = rows.map((row) => row.run_id);
    taskIds = rows.map((row) => row.task_id);
  });

  afterAll(() => fixture?.close());

  const writeVerdicts = (table: string, i: number) =>
    rowsReadBy(fixture, table, () =>
      new ReputationRepository(fixture.session).recordVerdicts(taskIds[i], [
        { nodeId: 'veteran', verdict: 'valid', setOnRun: runIds[i] },
        { nodeId: 'veteran', verdict: 'valid', setOnRun: null },
      ]),
    );

  it('reads the runs it marks, not every run', async () => {
    const reads: number[] = [];
    // Past the prepared statement's first five executions, when PostgreSQL settles on a generic plan.
    for (let i = 0; i < 8; i++) reads.push(await writeVerdicts('task_runs', i));
    const [marked] = await fixture.session.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM task_runs WHERE verdict = 'valid'`,
    );
    expect(marked.n).toBe(8);
    // Each write reads the one run it marks. The plan that scanned read all 400.
    expect(Math.max(...reads)).toBeLessThan(5);
  });

  it('reads the task it decides, not every task', async () => {
    const reads: number[] = [];
    for (let i = 8; i < 12; i++) reads.push(await writeVerdicts('tasks', i));
    expect(Math.max(...reads)).toBeLessThan(5);
  });
});
