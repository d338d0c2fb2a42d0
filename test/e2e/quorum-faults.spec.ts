import { checkReceipt } from '../../src/receipts/receipt-check';
import { LeaseSweeper } from '../../src/scheduling/lease-sweeper';
import { TestAgent } from '../support/agent';
import { useAdminApp } from '../support/admin';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { registerNode } from '../support/nodes';
import { FIRST, LIE, QUORUM_APP_ENV, honest, quorumAgents, reputationOf } from '../support/quorum';
import { getTask, submitTask } from '../support/tasks';

/**
 * Quorum tasks that fail, and the leases that end with them: a task fault needs distinct owners, a failed task
 * and a quarantined node give their other leases back, and one key under two owners is one voice.
 */
describeEachDatabase('quorum faults and leases on %s', (database) => {
  const ctx = useAdminApp({
    database,
    env: QUORUM_APP_ENV,
  });
  let alice: Session;
  const { operator, agentOf } = quorumAgents(ctx);
  const nodeView = (agent: TestAgent) => reputationOf(ctx, agent);

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
  });

  it('the same trap from a quorum of nodes fails the task as unexecutable', async () => {
    const [x, y] = [await agentOf(), await agentOf()];
    const task = await submitTask(ctx.app, bearer(alice.accessToken), FIRST);
    const [[rx], [ry]] = [await x.claim(), await y.claim()];
    expect(['pending', 'running']).toContain((await x.report(rx, 'trap', null)).json().task_status);
    expect((await y.report(ry, 'trap', null)).json()).toMatchObject({
      task_id: task.task_id,
      task_status: 'failed',
      task_status_reason: 'unexecutable',
    });
  });

  it('one owner never fails a quorum task alone: the same trap from two of its nodes counts once', async () => {
    const twin = await operator('twin');
    const [a, b, x] = [await agentOf(twin), await agentOf(twin), await agentOf()];
    const task = await submitTask(ctx.app, bearer(alice.accessToken), {
      ...FIRST,
      requirements: { ...FIRST.requirements, max_runs: 4 },
    });
    for (const agent of [a, b]) {
      const [run] = await agent.claim();
      expect(run.task_id).toBe(task.task_id);
      // b may take it after a's failed run (only a leased or succeeded run holds the owner's place).
      expect((await agent.report(run, 'trap', null)).json()).toMatchObject({ task_status: 'pending' });
    }
    const [rx] = await x.claim();
    expect(rx.task_id).toBe(task.task_id);
    expect((await x.report(rx, 'trap', null)).json()).toMatchObject({
      task_status: 'failed',
      task_status_reason: 'unexecutable',
    });
  });

  it("a task that fails while another run is leased tells that run's node to stop (cancel), not renew", async () => {
    const [x, y, z] = [await agentOf(), await agentOf(), await agentOf()];
    const task = await submitTask(ctx.app, bearer(alice.accessToken), {
      ...FIRST,
      requirements: { min_nodes: 3, quorum: 2, max_execution_time_sec: 60 },
    });
    const [[rx], [ry], [rz]] = [await x.claim(), await y.claim(), await z.claim()];
    expect([rx.task_id, ry.task_id, rz.task_id]).toEqual([task.task_id, task.task_id, task.task_id]);
    await x.report(rx, 'trap', null);
    expect((await y.report(ry, 'trap', null)).json()).toMatchObject({ task_status_reason: 'unexecutable' });
    expect((await z.heartbeat([rz])).json().leases).toEqual({ renewed: [], lost: [], cancel: [rz.run_id] });
    expect((await z.report(rz, 'ok', { v: 1 })).statusCode).toBe(409);
  });

  it("a failed run answers its task's status as it is: still running on the task's other run", async () => {
    const [x, y] = [await agentOf(), await agentOf()];
    const h = bearer(alice.accessToken);
    const task = await submitTask(ctx.app, h, FIRST);
    const [[rx], [ry]] = [await x.claim(), await y.claim()];
    expect([rx.task_id, ry.task_id]).toEqual([task.task_id, task.task_id]);
    const answer = (await x.report(rx, 'error', null)).json();
    expect(answer).toMatchObject({ run_status: 'failed', task_status: 'running' });
    expect((await getTask(ctx.app, task.task_id, h)).status).toBe('running');
    // A lost lease requeues without a failed run: the reason says the task waits, not that it retries.
    await ctx.dataSource.query(
      `UPDATE task_runs SET lease_expires_at = now() - interval '1 second' WHERE run_id = $1`,
      [ry.run_id],
    );
    await ctx.app.get(LeaseSweeper).sweep();
    const [listed] = await ctx.dataSource.query<{ status: string; status_reason: string }[]>(
      `SELECT status, status_reason FROM tasks WHERE task_id = $1`,
      [task.task_id],
    );
    expect(listed).toEqual({ status: 'pending', status_reason: 'waiting for a node' });
    // Out of the way of the next tests' claims.
    const cancelled = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/tasks/${task.task_id}/cancel`,
      headers: h,
    });
    expect(cancelled.statusCode).toBe(200);
  });

  it("a task a lost lease fails (attempts exhausted) tells its other leased run's node to stop", async () => {
    const [x, y] = [await agentOf(), await agentOf()];
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { ...FIRST, max_attempts: 1 });
    const [[rx], [ry]] = [await x.claim(), await y.claim()];
    expect([rx.task_id, ry.task_id]).toEqual([task.task_id, task.task_id]);
    await ctx.dataSource.query(
      `UPDATE task_runs SET lease_expires_at = now() - interval '1 second' WHERE run_id = $1`,
      [rx.run_id],
    );
    await ctx.app.get(LeaseSweeper).sweep();
    expect(await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).toMatchObject({
      status: 'failed',
      status_reason: 'attempts_exhausted',
    });
    expect((await y.heartbeat([ry])).json().leases).toEqual({ renewed: [], lost: [], cancel: [ry.run_id] });
  });

  it('a node quarantined while it holds other leases loses them: requeued for other nodes, its result refused', async () => {
    const [liar, h1, h2] = [await agentOf(), await agentOf(), await agentOf()];
    const h = bearer(alice.accessToken);
    const tasks = [];
    for (let i = 0; i < 4; i++)
      tasks.push(await submitTask(ctx.app, h, { ...FIRST, inputs: { numbers: [i, 2], operation: 'sum' } }));
    const ids = tasks.map((t) => t.task_id);
    // A task of another user's that trusts one node and allows one attempt, which the liar holds too.
    const bob = bearer((await operator('bob')).accessToken);
    const single = await submitTask(ctx.app, bob, {
      requirements: { min_nodes: 1, max_execution_time_sec: 60 },
      max_attempts: 1,
    });
    const liarRuns = await liar.claim({ max: 5, wait_ms: 0 });
    const honestRuns = await h1.claim({ max: 4, wait_ms: 0 });
    expect(liarRuns.map((r) => r.task_id).sort()).toEqual([...ids, single.task_id].sort());
    expect(honestRuns.map((r) => r.task_id).sort()).toEqual([...ids].sort());
    const [kept] = liarRuns.filter((r) => r.task_id === ids[3]);
    // Three tasks where the liar is outvoted: the third invalid run quarantines it.
    for (const id of ids.slice(0, 3)) {
      await liar.report(
        liarRuns.find((r) => r.task_id === id)!,
        'ok',
        LIE,
      );
      const mine = honestRuns.find((r) => r.task_id === id)!;
      await h1.report(mine, 'ok', honest(mine));
    }
    for (const run of await h2.claim({ max: 3, wait_ms: 0 })) await h2.report(run, 'ok', honest(run));
    expect((await nodeView(liar)).reputation).toMatchObject({ quarantined: true });
    // Its lease on the fourth task is gone: the node is told so, and its result there counts for nothing.
    expect((await liar.heartbeat([kept])).json().leases).toEqual({
      renewed: [],
      lost: [kept.run_id],
      cancel: [],
    });
    expect((await liar.report(kept, 'ok', LIE)).statusCode).toBe(409);
    // Taken back by the server, not failed by the task: its attempt is given back, so the task that allowed
    // one is queued again instead of failing as attempts_exhausted, and the quorum task's count is h1's alone.
    expect(await getTask(ctx.app, single.task_id, bob)).toMatchObject({ status: 'pending', attempts: 0 });
    expect((await getTask(ctx.app, ids[3], h)).attempts).toBe(1);
    const again = await h2.claim({ max: 2, wait_ms: 0 });
    expect(again.map((r) => r.task_id).sort()).toEqual([ids[3], single.task_id].sort());
  });

  it('a quarantined node whose leases were not taken back cannot keep them alive with heartbeats', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
    const agent = await agentOf();
    const [run] = await agent.claim();
    expect(run.task_id).toBe(task.task_id);
    // Quarantined, its lease still held: as before the release that follows the quarantine, or after it failed.
    await ctx.dataSource.query(
      `UPDATE nodes SET quarantined_at = now(), quarantine_reason = 'test' WHERE node_id = $1`,
      [agent.nodeId],
    );
    await ctx.dataSource.query(
      `UPDATE task_runs SET lease_expires_at = now() + interval '2 seconds' WHERE run_id = $1`,
      [run.run_id],
    );
    const leaseSecs = async () =>
      Number(
        (
          await ctx.dataSource.query(
            `SELECT extract(epoch FROM lease_expires_at - now()) AS s FROM task_runs WHERE run_id = $1`,
            [run.run_id],
          )
        )[0].s,
      );
    expect((await agent.heartbeat([run])).json().leases).toEqual({
      renewed: [],
      lost: [run.run_id],
      cancel: [],
    });
    expect(await leaseSecs()).toBeLessThan(3);
    // The control: reinstated, the same heartbeat renews it.
    await ctx.dataSource.query(`UPDATE nodes SET quarantined_at = NULL WHERE node_id = $1`, [agent.nodeId]);
    expect((await agent.heartbeat([run])).json().leases.renewed).toEqual([run.run_id]);
    expect(await leaseSecs()).toBeGreaterThan(10);
    expect((await agent.report(run, 'ok', honest(run))).statusCode).toBe(200);
  });

  it('one signing key under two owners is one voice: their agreement is no quorum until another key agrees', async () => {
    const a = await agentOf();
    const owner = await operator('copy');
    // A copied data dir: the same key pair registered by another owner.
    const copied = new TestAgent(
      ctx.app,
      await registerNode(ctx.app, bearer(owner.accessToken), { public_key: a.keys.publicKeyBase64 }),
      a.keys,
    );
    const task = await submitTask(ctx.app, bearer(alice.accessToken), FIRST);
    const [[ra], [rc]] = [await a.claim(), await copied.claim()];
    expect([ra.task_id, rc.task_id]).toEqual([task.task_id, task.task_id]);
    await a.report(ra, 'ok', honest(ra));
    expect((await copied.report(rc, 'ok', honest(rc))).json()).toMatchObject({ task_status: 'running' });
    const third = await agentOf();
    const [rt] = await third.claim();
    expect(rt.task_id).toBe(task.task_id);
    expect((await third.report(rt, 'ok', honest(rt))).json()).toMatchObject({ task_status: 'completed' });
    const receipt = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${task.task_id}/receipt`,
      headers: bearer(alice.accessToken),
    });
    expect(checkReceipt(receipt.json()).filter((check) => !check.holds)).toEqual([]);
  });
});
