import { QuorumResultsRepository } from '../../../src/scheduling/quorum-results.repository';
import type { RunOutcome } from '../../../src/scheduling/runs.repository';
import { ClaimFixture, claimFixture } from '../../support/claim-fixtures';
import { insertNodeOwner, rowsReadBy } from '../../support/database-fixture';
import { OutagesConfig } from '../../../src/outages/outages.config';

/** The default setting: no outage is under way in these tests (the clock is fresh or never moved). */
const OUTAGES = new OutagesConfig({ creditAfterMs: 10_000 });

const HISTORY = 400;
const TASKS = 8;

const okResult = (nodePublicKey: string): RunOutcome => ({
  status: 'succeeded',
  outcome: 'ok',
  output: { sum: 3 },
  outputHash: 'a'.repeat(64),
  stdout: null,
  stderr: null,
  exitCode: 0,
  executionTimeMs: 1,
  gasUsed: null,
  requestHash: 'b'.repeat(64),
  response: { run_status: 'succeeded' },
  receipt: {},
  signature: 'sig',
  nodePublicKey,
  verdict: null,
});

/**
 * A quorum result's one statement on PGlite (QuorumResultsRepository) reads the task's own runs, not every run:
 * with a status in the WHERE of its reads or of its verdict update, a plan made while the embedded database had
 * no statistics went through idx_task_runs_status and read every succeeded run (bench/README.md). Counted as
 * rows read from task_runs, past the prepared statement's first five executions.
 */
describe('a quorum result’s one statement on PGlite', () => {
  let fixture: ClaimFixture;

  beforeAll(async () => {
    fixture = await claimFixture('pglite', { nodeId: 'veteran', history: HISTORY, queued: TASKS });
    await fixture.session.query(
      `UPDATE tasks SET min_nodes = 2, quorum = 2, run_target = 2, max_runs = 4 WHERE status = 'pending'`,
    );
    await insertNodeOwner(fixture.session, { username: 'second', nodeId: 'second', publicKey: 'k2' });
  });

  afterAll(() => fixture?.close());

  it('reads the task’s own runs when it records undecided results and when it decides', async () => {
    const quorum = new QuorumResultsRepository(fixture.session, OUTAGES);
    const first = await fixture.claims.claim('veteran', TASKS, TASKS, 300, null);
    const second = await fixture.claims.claim('second', TASKS, TASKS, 300, null);
    expect(first).toHaveLength(TASKS);
    expect(second).toHaveLength(TASKS);
    const decisions: string[] = [];
    const reads: number[] = [];
    for (const [runs, key] of [
      [first, 'k'],
      [second, 'k2'],
    ] as const) {
      for (const run of runs) {
        reads.push(
          await rowsReadBy(fixture, 'task_runs', async () => {
            const done = await quorum.finish(run.runId, run.fence, run.taskId, okResult(key));
            decisions.push(done?.decision ?? 'locked path');
          }),
        );
      }
    }
    expect(decisions).toEqual([
      ...Array<string>(TASKS).fill('undecided'),
      ...Array<string>(TASKS).fill('decides'),
    ]);
    // Each statement: the task's runs (two at most) and the run it records. Reading every run would be 400+.
    expect(Math.max(...reads)).toBeLessThan(20);
  });
});
