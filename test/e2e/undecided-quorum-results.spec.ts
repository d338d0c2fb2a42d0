import { TransactionRunner } from '../../src/database/transaction-runner';
import { RunsRepository } from '../../src/scheduling/runs.repository';
import { NO_QUORUM_YET } from '../../src/tasks/tasks.repository';
import { useAdminApp } from '../support/admin';
import { bearer, newSession, Session } from '../support/auth';
import { LeasedRun, TestAgent } from '../support/agent';
import { honest, LIE, QUORUM_APP_ENV, quorumAgents } from '../support/quorum';
import { getTask, submitTask } from '../support/tasks';

/**
 * On the embedded database a quorum run's result that decides nothing yet is recorded in one statement, without
 * the result's transaction (RunsRepository.finishUndecidedQuorumRun); a result that decides takes the locked
 * path as before. Nodes of distinct owners, test agents making HTTP calls.
 */
describe('undecided quorum results on PGlite', () => {
  const ctx = useAdminApp({ database: 'pglite', env: QUORUM_APP_ENV });
  const { agentOf } = quorumAgents(ctx);
  let alice: Session;
  let agents: TestAgent[];

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    agents = [await agentOf(), await agentOf(), await agentOf()];
  });

  afterEach(() => jest.restoreAllMocks());

  async function claimedRuns(taskId: string, nodes: number): Promise<LeasedRun[]> {
    const runs: LeasedRun[] = [];
    for (const agent of agents.slice(0, nodes)) {
      const [run] = await agent.claim({ max: 1, wait_ms: 0 });
      expect(run.task_id).toBe(taskId);
      runs.push(run);
    }
    return runs;
  }

  const runRow = async (runId: string) =>
    (
      await ctx.dataSource.query<{ status: string; verdict: string | null; result_response: unknown }[]>(
        `SELECT status, verdict, result_response FROM task_runs WHERE run_id = $1`,
        [runId],
      )
    )[0];

  it('records an undecided result in one statement; the second agreeing voice decides on the locked path', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), {
      inputs: { numbers: [1, 2], operation: 'sum' },
      requirements: { min_nodes: 3, quorum: 2, max_execution_time_sec: 60 },
    });
    const [first, second, late] = await claimedRuns(task.task_id, 3);
    const undecided = jest.spyOn(ctx.app.get(RunsRepository), 'finishUndecidedQuorumRun');
    const transactions = jest.spyOn(ctx.app.get(TransactionRunner), 'run');

    const one = await agents[0].report(first, 'ok', honest(first));
    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual({
      run_id: first.run_id,
      task_id: task.task_id,
      run_status: 'succeeded',
      task_status: 'running',
      task_status_reason: null,
    });
    expect(await undecided.mock.results[0].value).toBe('running');
    expect(transactions).not.toHaveBeenCalled();
    expect(await runRow(first.run_id)).toEqual({
      status: 'succeeded',
      verdict: null,
      result_response: one.json(),
    });

    // Two of three runs reported, but two keys vouch for one output: the quorum. The one statement writes
    // nothing; the locked path completes the task.
    const two = await agents[1].report(second, 'ok', honest(second));
    expect(two.json()).toMatchObject({ run_status: 'succeeded', task_status: 'completed' });
    expect(await undecided.mock.results[1].value).toBeNull();
    expect(transactions).toHaveBeenCalled();
    const done = await getTask(ctx.app, task.task_id, bearer(alice.accessToken));
    expect(done).toMatchObject({ status: 'completed', result: honest(first) });
    expect((await runRow(first.run_id)).verdict).toBe('valid');
    expect((await runRow(second.run_id)).verdict).toBe('valid');

    // A late lie is judged against the decision, as before.
    expect((await agents[2].report(late, 'ok', LIE)).json()).toMatchObject({ task_status: 'completed' });
    expect(await undecided.mock.results[2].value).toBeNull();
    expect((await runRow(late.run_id)).verdict).toBe('invalid');

    // A repeat of the undecided result gets the answer stored with it.
    const again = await agents[0].report(first, 'ok', honest(first));
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(one.json());
  });

  it('leaves a result the quorum cannot reach to the locked path, which seeks another run', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), {
      inputs: { numbers: [3, 4], operation: 'sum' },
      requirements: { min_nodes: 2, max_execution_time_sec: 60 },
    });
    const [a, b] = await claimedRuns(task.task_id, 2);
    const undecided = jest.spyOn(ctx.app.get(RunsRepository), 'finishUndecidedQuorumRun');
    expect((await agents[0].report(a, 'ok', honest(a))).json()).toMatchObject({ task_status: 'running' });
    // Every sought run reported and the two disagree: no quorum, one more run is sought (not undecided).
    const mismatch = await agents[1].report(b, 'ok', LIE);
    expect(mismatch.json()).toMatchObject({ task_status: 'running', task_status_reason: NO_QUORUM_YET });
    expect(await undecided.mock.results[1].value).toBeNull();
  });
});
