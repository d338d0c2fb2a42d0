import { VcpMetrics } from '../../src/metrics/vcp-metrics';
import { RunForResult, RunsRepository } from '../../src/scheduling/runs.repository';
import { LeasedRun, TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { quorumAgents } from '../support/quorum';
import { submitTask } from '../support/tasks';
import { useTestApp } from '../support/app';

/**
 * A result counts once in the metrics (vcp_task_runs_total, vcp_tasks_finished_total): not again when an
 * identical repeat is answered with the first answer, and not with what an attempt rolled back had decided.
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

  if (database !== 'postgres') return;

  it('a result retried after a deadlock counts what its committed attempt did, not the rolled-back one', async () => {
    // Three nodes of distinct owners, a quorum of two, no retries: one node's error alone fails the task.
    await submitTask(ctx.app, bearer(alice.accessToken), {
      priority: 9,
      max_attempts: 1,
      requirements: { min_nodes: 3, quorum: 2, max_execution_time_sec: 60 },
    });
    const [a, b, c] = [await agentOf(), await agentOf(), await agentOf()];
    const leased = new Map<TestAgent, LeasedRun>();
    for (const agent of [a, b, c]) leased.set(agent, (await agent.claim())[0]);
    const runA = leased.get(a)!;
    const metrics = ctx.app.get(VcpMetrics);
    const tasksFinished = jest.spyOn(metrics, 'taskFinished');
    const runs = ctx.app.get(RunsRepository);
    // a's first attempt fails its task (attempts exhausted), then is chosen as a deadlock's victim and rolled
    // back (as with a cancel or a lease sweep locking the rows in the other order); before the retry, b and c
    // agree and complete the task. The retry records a's error against a completed task.
    const finish = runs.finish.bind(runs);
    let deadlocked = false;
    jest.spyOn(runs, 'finish').mockImplementation(async (runId, fence, result) => {
      if (runId === runA.run_id && !deadlocked) {
        deadlocked = true;
        throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
      }
      return finish(runId, fence, result);
    });
    const lock = runs.lockForResult.bind(runs);
    let locks = 0;
    jest.spyOn(runs, 'lockForResult').mockImplementation(async (runId): Promise<RunForResult | null> => {
      if (runId === runA.run_id && ++locks === 2) {
        await b.report(leased.get(b)!, 'ok', { result: 6 });
        const agreed = await c.report(leased.get(c)!, 'ok', { result: 6 });
        expect(agreed.json()).toMatchObject({ task_status: 'completed' });
      }
      return lock(runId);
    });
    const res = await a.report(runA, 'error', null);
    expect(deadlocked).toBe(true);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ run_status: 'failed', task_status: 'completed' });
    // Once, by the result that completed it; a's retry did not finish the task.
    expect(tasksFinished.mock.calls).toEqual([['computation', 'completed']]);
  });
});
