import { ClaimService } from '../../src/scheduling/claim.service';
import { ClaimsRepository } from '../../src/scheduling/claims.repository';
import { LeasedRun, TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { ORIGINAL_TASK, submitTask } from '../support/tasks';

/**
 * A submission wakes the claim that has waited longest, not every waiting node: each woken claim is a
 * transaction, and on the embedded database they all queued on its one session (issue 16's dispatch latency).
 * The fallback poll is 30 s, so within these tests only wake-ups move a waiting claim.
 */
describe('claim wake-ups', () => {
  const ctx = useTestApp({
    env: {
      SCHEDULER_FALLBACK_POLL_MS: '30000',
      SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
      TASK_RETRY_BASE_MS: '0',
    },
  });
  let alice: Session;
  let operators: Session[];

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    // Three owners: a task needing two nodes needs two owners (issue 18).
    operators = [
      await newSession(ctx.app, 'bob'),
      await newSession(ctx.app, 'carol'),
      await newSession(ctx.app, 'dave'),
    ];
  });

  /** Three agents long-polling, in this order; resolves once all three wait. */
  const threeWaiting = async () => {
    const agents: TestAgent[] = [];
    for (const operator of operators)
      agents.push(await TestAgent.register(ctx.app, bearer(operator.accessToken)));
    const claims = ctx.app.get(ClaimService);
    const polls: Promise<LeasedRun[]>[] = [];
    for (const agent of agents) {
      const waitingBefore = claims.waiting;
      polls.push(agent.claim({ max: 1, wait_ms: 20_000 }));
      await eventually(() => expect(claims.waiting).toBe(waitingBefore + 1));
    }
    return { agents, polls };
  };

  it('one new run wakes the longest-waiting claim, which passes the wake-up on once (not a herd of three)', async () => {
    const { polls } = await threeWaiting();
    const claim = jest.spyOn(ctx.app.get(ClaimsRepository), 'claim');
    try {
      const task = await submitTask(ctx.app, bearer(alice.accessToken));
      const [first] = await polls[0];
      expect(first.task_id).toBe(task.task_id);
      // The winner woke the second waiter (there might have been more work); it found none and waits again.
      await eventually(() => expect(claim).toHaveBeenCalledTimes(2));
      await eventually(() => expect(ctx.app.get(ClaimService).waiting).toBe(2));
      expect(claim).toHaveBeenCalledTimes(2);
    } finally {
      claim.mockRestore();
    }
    // The two still waiting take the next runs: a task needing two nodes reaches both through the chain.
    const pair = await submitTask(ctx.app, bearer(alice.accessToken), {
      ...ORIGINAL_TASK,
      requirements: { ...ORIGINAL_TASK.requirements, min_nodes: 2 },
    });
    const [second, third] = await Promise.all([polls[1], polls[2]]);
    expect([second[0]?.task_id, third[0]?.task_id]).toEqual([pair.task_id, pair.task_id]);
  });

  it('a wake-up that comes while the only claim is looking (none waiting) makes it look again, not wait', async () => {
    const agent = await TestAgent.register(ctx.app, bearer(operators[2].accessToken));
    const repository = ctx.app.get(ClaimsRepository);
    const original = repository.claim.bind(repository);
    let submitted: Promise<{ task_id: string }> | undefined;
    // The claim's first look finds nothing; the submission commits, and its wake-up fires, before it waits.
    const claim = jest.spyOn(repository, 'claim').mockImplementationOnce(async (...args) => {
      const found = await original(...args);
      submitted = submitTask(ctx.app, bearer(alice.accessToken));
      await submitted;
      return found;
    });
    try {
      // The fallback poll is 30 s and the claim's deadline (which looks once more) 20 s: a second look within
      // eventually's 5 s comes only from the missed wake-up.
      const res = agent.claimRaw({ max: 1, wait_ms: 20_000 });
      await eventually(() => expect(claim).toHaveBeenCalledTimes(2));
      expect((await res).statusCode).toBe(200);
      expect((await res).json().runs[0].task_id).toBe((await submitted!).task_id);
    } finally {
      claim.mockRestore();
    }
  });

  it('issue 18 acceptance 4: the better-reputed node gets the next task first, though it waited less', async () => {
    const worse = await TestAgent.register(ctx.app, bearer(operators[0].accessToken));
    const better = await TestAgent.register(ctx.app, bearer(operators[1].accessToken));
    // Wilson lower bounds: 5 valid of 10 → 0.24; 50 of 50 → 0.93. (Equal reputations: the first test above.)
    const setRecord = (agent: TestAgent, valid: number, invalid: number) =>
      ctx.dataSource.query(`UPDATE nodes SET runs_valid = $2, runs_invalid = $3 WHERE node_id = $1`, [
        agent.nodeId,
        valid,
        invalid,
      ]);
    await setRecord(worse, 5, 5);
    await setRecord(better, 50, 0);
    const claims = ctx.app.get(ClaimService);
    const before = claims.waiting;
    const worsePoll = worse.claim({ max: 1, wait_ms: 20_000 });
    await eventually(() => expect(claims.waiting).toBe(before + 1));
    const betterPoll = better.claim({ max: 1, wait_ms: 20_000 });
    await eventually(() => expect(claims.waiting).toBe(before + 2));

    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    expect((await betterPoll)[0]?.task_id).toBe(task.task_id);
    const next = await submitTask(ctx.app, bearer(alice.accessToken));
    expect((await worsePoll)[0]?.task_id).toBe(next.task_id);
  });
});
