import * as receipts from '../../src/common/receipts/receipt';
import { TransactionRunner } from '../../src/database/transaction-runner';
import { QuorumResultsRepository } from '../../src/scheduling/quorum-results.repository';
import { NO_QUORUM_YET } from '../../src/tasks/tasks.repository';
import { useAdminApp } from '../support/admin';
import { bearer, newSession, Session } from '../support/auth';
import { LeasedRun, TestAgent } from '../support/agent';
import { honest, LIE, QUORUM_APP_ENV, quorumAgents } from '../support/quorum';
import { getTask, submitTask } from '../support/tasks';

/**
 * On the embedded database a quorum run's result that decides nothing yet, or decides with every report
 * agreeing, is one statement without the result's transaction (QuorumResultsRepository); a mismatch, a liar to
 * judge and a late result take the locked path as before, and on PostgreSQL every quorum result does. Test
 * agents of distinct owners making HTTP calls.
 */
describe('quorum results in one statement on PGlite', () => {
  const ctx = useAdminApp({ database: 'pglite', env: QUORUM_APP_ENV });
  const { agentOf } = quorumAgents(ctx);
  let alice: Session;
  let agents: TestAgent[];

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    agents = [await agentOf(), await agentOf(), await agentOf(), await agentOf(alice)];
  });

  afterEach(() => jest.restoreAllMocks());

  const spies = () => ({
    statement: jest.spyOn(ctx.app.get(QuorumResultsRepository), 'finish'),
    transactions: jest.spyOn(ctx.app.get(TransactionRunner), 'run'),
  });

  async function quorumTask(requirements: Record<string, unknown>, nodes: TestAgent[], priority = 5) {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), {
      inputs: { numbers: [Math.random(), 1], operation: 'sum' },
      requirements: { max_execution_time_sec: 60, ...requirements },
      priority,
    });
    const runs: LeasedRun[] = [];
    for (const agent of nodes) {
      const [run] = await agent.claim({ max: 1, wait_ms: 0 });
      expect(run.task_id).toBe(task.task_id);
      runs.push(run);
    }
    return { taskId: task.task_id, runs };
  }

  const runRow = async (runId: string) =>
    (
      await ctx.dataSource.query<{ status: string; verdict: string | null; result_response: unknown }[]>(
        `SELECT status, verdict, result_response FROM task_runs WHERE run_id = $1`,
        [runId],
      )
    )[0];
  const validRuns = async (agent: TestAgent) =>
    (
      await ctx.dataSource.query<{ runs_valid: number; valid_streak: number }[]>(
        `SELECT runs_valid, valid_streak FROM nodes WHERE node_id = $1`,
        [agent.nodeId],
      )
    )[0];

  it('records an undecided result, then decides with the agreeing one, each in one statement', async () => {
    const [a, b, late] = agents;
    const { taskId, runs } = await quorumTask({ min_nodes: 3, quorum: 2 }, [a, b, late]);
    const before = [await validRuns(a), await validRuns(b)];
    const { statement, transactions } = spies();

    const one = await a.report(runs[0], 'ok', honest(runs[0]));
    expect(one.json()).toEqual({
      run_id: runs[0].run_id,
      task_id: taskId,
      run_status: 'succeeded',
      task_status: 'running',
      task_status_reason: null,
    });
    expect(await statement.mock.results[0].value).toMatchObject({ decision: 'undecided' });
    expect(await runRow(runs[0].run_id)).toEqual({
      status: 'succeeded',
      verdict: null,
      result_response: one.json(),
    });

    // Two of three runs reported and two keys vouch for one output: the quorum, decided by the one statement.
    const two = await b.report(runs[1], 'ok', honest(runs[1]));
    expect(two.json()).toMatchObject({ run_status: 'succeeded', task_status: 'completed' });
    expect(await statement.mock.results[1].value).toEqual({
      decision: 'decides',
      taskStatus: 'completed',
      earlier: [{ runId: runs[0].run_id, nodeId: a.nodeId }],
    });
    expect(transactions).not.toHaveBeenCalled();
    const done = await getTask(ctx.app, taskId, bearer(alice.accessToken));
    expect(done).toMatchObject({ status: 'completed', result: honest(runs[0]) });
    expect(done.verification).toMatchObject({ method: 'quorum', canonical_run_id: runs[1].run_id });
    expect((await runRow(runs[0].run_id)).verdict).toBe('valid');
    expect((await runRow(runs[1].run_id)).verdict).toBe('valid');
    expect(await validRuns(a)).toEqual({
      runs_valid: before[0].runs_valid + 1,
      valid_streak: before[0].valid_streak + 1,
    });
    expect(await validRuns(b)).toEqual({
      runs_valid: before[1].runs_valid + 1,
      valid_streak: before[1].valid_streak + 1,
    });

    // A late lie is judged against the decision on the locked path, as before.
    expect((await late.report(runs[2], 'ok', LIE)).json()).toMatchObject({ task_status: 'completed' });
    expect(await statement.mock.results[2].value).toBeNull();
    expect(transactions).toHaveBeenCalled();
    expect((await runRow(runs[2].run_id)).verdict).toBe('invalid');

    // Repeats get the answers stored with them.
    expect((await a.report(runs[0], 'ok', honest(runs[0]))).json()).toEqual(one.json());
    expect((await b.report(runs[1], 'ok', honest(runs[1]))).json()).toEqual(two.json());
  });

  it('leaves a quorum with a disagreeing report to the locked path, which judges the liar', async () => {
    const [a, liar, b] = agents;
    const { taskId, runs } = await quorumTask({ min_nodes: 3, quorum: 2 }, [a, liar, b]);
    const { statement } = spies();
    await a.report(runs[0], 'ok', honest(runs[0]));
    expect((await liar.report(runs[1], 'ok', LIE)).json()).toMatchObject({ task_status: 'running' });
    expect(await statement.mock.results[1].value).toMatchObject({ decision: 'undecided' });
    expect((await b.report(runs[2], 'ok', honest(runs[2]))).json()).toMatchObject({
      task_status: 'completed',
    });
    expect(await statement.mock.results[2].value).toBeNull();
    expect((await runRow(runs[1].run_id)).verdict).toBe('invalid');
    expect((await getTask(ctx.app, taskId, bearer(alice.accessToken))).status).toBe('completed');
  });

  it('leaves a mismatch to the locked path, which seeks another run', async () => {
    const [a, b] = agents;
    const { runs } = await quorumTask({ min_nodes: 2 }, [a, b]);
    const { statement } = spies();
    expect((await a.report(runs[0], 'ok', honest(runs[0]))).json()).toMatchObject({ task_status: 'running' });
    const mismatch = await b.report(runs[1], 'ok', LIE);
    expect(mismatch.json()).toMatchObject({ task_status: 'running', task_status_reason: NO_QUORUM_YET });
    expect(await statement.mock.results[1].value).toBeNull();
  });

  it('counts no verdict for a node of the task’s own creator', async () => {
    const [a, , , own] = agents;
    // Claimed before the task the mismatch left seeking another run.
    const { runs } = await quorumTask({ min_nodes: 2 }, [own, a], 9);
    const before = [await validRuns(own), await validRuns(a)];
    await own.report(runs[0], 'ok', honest(runs[0]));
    expect((await a.report(runs[1], 'ok', honest(runs[1]))).json()).toMatchObject({
      task_status: 'completed',
    });
    expect((await runRow(runs[0].run_id)).verdict).toBe('valid');
    expect(await validRuns(own)).toEqual(before[0]);
    expect((await validRuns(a)).runs_valid).toBe(before[1].runs_valid + 1);
  });
});

describe('quorum results on PostgreSQL', () => {
  const ctx = useAdminApp({ database: 'postgres', env: QUORUM_APP_ENV });
  const { agentOf } = quorumAgents(ctx);

  afterEach(() => jest.restoreAllMocks());

  it('take the locked path at once: no one statement, the receipt checked once per result', async () => {
    const alice = await newSession(ctx.app, 'alice');
    const [a, b] = [await agentOf(), await agentOf()];
    const task = await submitTask(ctx.app, bearer(alice.accessToken), {
      inputs: { numbers: [1, 2], operation: 'sum' },
      requirements: { min_nodes: 2, max_execution_time_sec: 60 },
    });
    const [runA] = await a.claim({ max: 1, wait_ms: 0 });
    const [runB] = await b.claim({ max: 1, wait_ms: 0 });
    const statement = jest.spyOn(ctx.app.get(QuorumResultsRepository), 'finish');
    const verified = jest.spyOn(receipts, 'verifyReceipt');
    expect((await a.report(runA, 'ok', honest(runA))).json()).toMatchObject({ task_status: 'running' });
    expect(verified).toHaveBeenCalledTimes(1);
    expect((await b.report(runB, 'ok', honest(runB))).json()).toMatchObject({ task_status: 'completed' });
    expect(verified).toHaveBeenCalledTimes(2);
    expect(statement).not.toHaveBeenCalled();
    expect((await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).status).toBe('completed');
  });
});
