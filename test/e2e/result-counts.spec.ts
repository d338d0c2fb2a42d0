import { VcpMetrics } from '../../src/metrics/vcp-metrics';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { quorumAgents } from '../support/quorum';
import { submitTask } from '../support/tasks';
import { useTestApp } from '../support/app';

/**
 * A result counts once in the metrics (vcp_task_runs_total, vcp_tasks_finished_total): not again when an
 * identical repeat is answered with the first answer.
 */
describeEachDatabase('the counts of a result, on %s', (database) => {
  const ctx = useTestApp({
    database,
    env: { TASK_RETRY_BASE_MS: '0', SCHEDULER_SWEEP_INTERVAL_SECS: '3600' },
  });
  let alice: Session;
  const { agentOf } = quorumAgents(ctx);

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
  });

  afterEach(() => jest.restoreAllMocks());

  it('an identical repeat of a result gets the first answer and counts nothing more', async () => {
    await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
    const agent = await agentOf();
    const [run] = await agent.claim();
    const metrics = ctx.app.get(VcpMetrics);
    const runsFinished = jest.spyOn(metrics, 'taskRunFinished');
    const tasksFinished = jest.spyOn(metrics, 'taskFinished');
    const first = await agent.report(run, 'ok', { result: 6 });
    expect(first.statusCode).toBe(200);
    const repeat = await agent.report(run, 'ok', { result: 6 });
    expect(repeat.statusCode).toBe(200);
    expect(repeat.json()).toEqual(first.json());
    expect(runsFinished.mock.calls).toEqual([['ok']]);
    expect(tasksFinished.mock.calls).toEqual([['computation', 'completed']]);
  });
});
