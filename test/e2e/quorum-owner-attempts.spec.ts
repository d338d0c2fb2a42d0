import { LeaseSweeper } from '../../src/scheduling/lease-sweeper';
import { WAIT_REASONS } from '../../src/tasks/wait-reason';
import { LeasedRun, TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { FIRST, QUORUM_APP_ENV, honest, quorumAgents } from '../support/quorum';
import { getTask, ORIGINAL_TASK, submitTask } from '../support/tasks';

/**
 * Attempts of a quorum task are not one operator's to spend: whatever its nodes do, an owner's failed and lost
 * runs spend at most one of `max_attempts`, and from its second such run on (or second run handed back) its nodes
 * no longer take the task.
 */
describeEachDatabase('an owner’s failed runs of a quorum task on %s', (database) => {
  const ctx = useTestApp({
    database,
    env: QUORUM_APP_ENV,
  });
  let alice: Session;
  const { operator, agentOf } = quorumAgents(ctx);
  const task = (id: string) => getTask(ctx.app, id, bearer(alice.accessToken));

  const submitted: string[] = [];
  const submit = async (body: Record<string, unknown>) => {
    const submittedTask = await submitTask(ctx.app, bearer(alice.accessToken), body);
    submitted.push(submittedTask.task_id);
    return submittedTask;
  };

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
  });

  // A test that failed leaves no open task for the next one's nodes to claim first.
  afterEach(async () => {
    for (const id of submitted.splice(0)) {
      await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/tasks/${id}/cancel`,
        headers: bearer(alice.accessToken),
      });
    }
  });

  /** The run's lease ends as when it runs out (swept), and `agoSecs` later: its node may claim the task again. */
  async function loseLease(run: LeasedRun, agoSecs = 0): Promise<void> {
    await ctx.dataSource.query(
      `UPDATE task_runs SET lease_expires_at = now() - interval '1 second' WHERE run_id = $1`,
      [run.run_id],
    );
    await ctx.app.get(LeaseSweeper).sweep();
    await ctx.dataSource.query(
      `UPDATE task_runs SET completed_at = completed_at - $2::int * interval '1 second' WHERE run_id = $1`,
      [run.run_id, agoSecs],
    );
  }

  /** Two nodes of two new owners report the honest answer: the task completes. */
  async function completeWithHonestOwners(taskId: string): Promise<void> {
    let status = '';
    for (const agent of [await agentOf(), await agentOf()]) {
      const [run] = await agent.claim();
      expect(run.task_id).toBe(taskId);
      status = (await agent.report(run, 'ok', honest(run))).json<{ task_status: string }>().task_status;
    }
    expect(status).toBe('completed');
  }

  it('an operator whose three nodes fail it, by errors and lost leases, spends one attempt; honest owners complete it', async () => {
    const mallory = await operator('mallory');
    const nodes = [await agentOf(mallory), await agentOf(mallory), await agentOf(mallory)];
    const { task_id } = await submit(FIRST);
    const leasedTo: string[] = [];
    for (const [i, node] of nodes.entries()) {
      const runs = await node.claim();
      if (runs.length === 0) continue;
      expect(runs[0].task_id).toBe(task_id);
      leasedTo.push(node.nodeId);
      if (i === 1) await loseLease(runs[0], 3600);
      else expect((await node.report(runs[0], 'error', null)).statusCode).toBe(200);
    }
    // The second failure gave its attempt back and ended the owner's turn: the third node is not given the task,
    // nor, a lease later, the node whose lease was lost (which would otherwise take it again).
    expect(leasedTo).toEqual([nodes[0].nodeId, nodes[1].nodeId]);
    expect(await nodes[1].claim()).toEqual([]);
    // The only nodes online are the operator's: the task says it waits for another owner's.
    expect(await task(task_id)).toMatchObject({
      status: 'pending',
      attempts: 1,
      status_reason: WAIT_REASONS.noOtherOwner,
    });
    await completeWithHonestOwners(task_id);
  });

  it('a refused result is one of its owner’s two faults: it gave its attempt back, the next failure gives its own', async () => {
    const trent = await operator('trent');
    const nodes = [await agentOf(trent), await agentOf(trent), await agentOf(trent)];
    const { task_id } = await submit(FIRST);
    const [refused] = await nodes[0].claim();
    expect(refused.task_id).toBe(task_id);
    // Unsigned: refused unread (422), its lease ended as result_invalid.
    expect((await nodes[0].report(refused, 'ok', honest(refused), { signature: undefined })).statusCode).toBe(
      422,
    );
    const [failed] = await nodes[1].claim();
    expect(failed.task_id).toBe(task_id);
    await nodes[1].report(failed, 'error', null);
    expect(await nodes[2].claim()).toEqual([]);
    expect(await task(task_id)).toMatchObject({ status: 'pending', attempts: 0 });
    await completeWithHonestOwners(task_id);
  });

  it('an owner whose node failed once serves the task again: with another node, or the same one after a lost lease', async () => {
    const bob = await operator('bob');
    const [b1, b2] = [await agentOf(bob), await agentOf(bob)];
    const first = await submit(FIRST);
    const [failed] = await b1.claim();
    expect(failed.task_id).toBe(first.task_id);
    await b1.report(failed, 'error', null);
    const [again] = await b2.claim();
    expect(again.task_id).toBe(first.task_id);
    await b2.report(again, 'ok', honest(again));
    const x = await agentOf();
    const [rx] = await x.claim();
    expect((await x.report(rx, 'ok', honest(rx))).json()).toMatchObject({ task_status: 'completed' });

    const carol = await agentOf();
    const second = await submit(FIRST);
    const [lost] = await carol.claim();
    expect(lost.task_id).toBe(second.task_id);
    await loseLease(lost, 3600);
    const [retried] = await carol.claim();
    expect(retried.task_id).toBe(second.task_id);
    await carol.report(retried, 'ok', honest(retried));
    const other = await agentOf();
    const [run] = await other.claim();
    expect((await other.report(run, 'ok', honest(run))).json()).toMatchObject({ task_status: 'completed' });
  });

  it('an owner whose nodes handed it back twice takes it no more: turns of claim and hand-back cannot hold it', async () => {
    const oscar = await operator('oscar');
    const nodes = [await agentOf(oscar), await agentOf(oscar), await agentOf(oscar)];
    const { task_id } = await submit(FIRST);
    // One hand-back bars nothing: the owner's next node is given the task.
    for (const node of nodes.slice(0, 2)) {
      const [run] = await node.claim();
      expect(run.task_id).toBe(task_id);
      expect((await node.release(run)).statusCode).toBe(204);
    }
    // Two do: neither a third node of that owner, nor a lease later the first one, is given it again.
    expect(await nodes[2].claim()).toEqual([]);
    await ctx.dataSource.query(
      `UPDATE task_runs SET completed_at = completed_at - interval '1 hour' WHERE task_id = $1`,
      [task_id],
    );
    expect(await nodes[0].claim()).toEqual([]);
    // Hand-backs spend no attempt. With only that owner's nodes online (earlier tests' nodes taken offline), the
    // task says it waits for another owner's node.
    await ctx.dataSource.query(
      `UPDATE nodes SET status = 'offline' WHERE node_id <> ALL($1::varchar[])`,
      [nodes.map((node) => node.nodeId)],
    );
    expect(await task(task_id)).toMatchObject({
      status: 'pending',
      attempts: 0,
      status_reason: WAIT_REASONS.noOtherOwner,
    });
    await completeWithHonestOwners(task_id);
  });

  it('a single-node task still spends an attempt on every failed run, whoever’s node it was', async () => {
    const dave = await operator('dave');
    const nodes = [await agentOf(dave), await agentOf(dave)];
    const { task_id } = await submit({
      ...ORIGINAL_TASK,
      priority: 9,
      max_attempts: 2,
    });
    const statuses = [];
    for (const node of nodes) {
      const [run] = await node.claim();
      expect(run.task_id).toBe(task_id);
      statuses.push((await node.report(run, 'error', null)).json<{ task_status: string }>().task_status);
    }
    expect(statuses).toEqual(['pending', 'failed']);
    expect(await task(task_id)).toMatchObject({ status_reason: 'attempts_exhausted', attempts: 2 });
  });

  it('claims of its other nodes racing the end of each run leave the owner one attempt spent and two runs', async () => {
    const mallory = await operator('racer');
    const nodes = [await agentOf(mallory), await agentOf(mallory), await agentOf(mallory)];
    const { task_id } = await submit(FIRST);
    type Holder = { node: TestAgent; run: LeasedRun } | undefined;
    let holder: Holder;
    const claimAll = async (others: TestAgent[]): Promise<Holder> => {
      const claims = await Promise.all(others.map(async (node) => ({ node, runs: await node.claim() })));
      const won = claims.filter((claim) => claim.runs.length > 0);
      expect(won.map((claim) => claim.runs[0].task_id)).toEqual(won.length === 0 ? [] : [task_id]);
      return won.map((claim) => ({ node: claim.node, run: claim.runs[0] }))[0];
    };
    holder = await claimAll(nodes);
    for (let round = 0; holder && round < 4; round++) {
      const { node, run } = holder;
      const others = nodes.filter((other) => other !== node);
      // The run ends (an error, or its lease lost) while the owner's other nodes claim.
      const [, racing] = await Promise.all([
        round % 2 === 0 ? node.report(run, 'error', null) : loseLease(run),
        claimAll(others),
      ]);
      holder = racing ?? (await claimAll(others));
    }
    expect(holder).toBeUndefined();
    const ended = await ctx.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM task_runs WHERE task_id = $1`,
      [task_id],
    );
    expect(ended[0].n).toBe(2);
    expect(await task(task_id)).toMatchObject({ status: 'pending', attempts: 1 });
    await completeWithHonestOwners(task_id);
  });
});
