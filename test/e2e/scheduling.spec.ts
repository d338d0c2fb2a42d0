import { LeaseSweeper } from '../../src/scheduling/lease-sweeper';
import { useAdminApp } from '../support/admin';
import { TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { LogCapture } from '../support/log-capture';
import { getTask, submitTask } from '../support/tasks';

/** One capture for both apps of this file: nestjs-pino builds its logger once per process (see api-keys.spec). */
const logs = new LogCapture();

/** Acceptance 1–4 (and the cancel part of 5) of issue 16, with test agents making plain HTTP calls. */
describeEachDatabase('scheduling on %s', (database) => {
  const ctx = useAdminApp({
    database,
    env: {
      TASK_RETRY_BASE_MS: '0',
      SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
      NODE_MAX_CONCURRENT_RUNS: '100',
      LOG_LEVEL: 'warn',
    },
    logDestination: logs,
  });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  const newAgent = () => TestAgent.register(ctx.app, bearer(bob.accessToken));
  const expireLease = (runId: string) =>
    ctx.dataSource.query(
      `UPDATE task_runs SET lease_expires_at = now() - interval '1 millisecond' WHERE run_id = $1`,
      [runId],
    );
  const sweep = () => ctx.app.get(LeaseSweeper).sweep();

  it('1: a task goes pending → running → completed through a node; the creator sees it, another user 404', async () => {
    const h = bearer(alice.accessToken);
    const task = await submitTask(ctx.app, h);
    expect(task.status).toBe('pending');
    const agent = await newAgent();
    const [run] = await agent.claim();
    expect(run).toMatchObject({ task_id: task.task_id, task_type: 'computation' });
    // The original body's computation runs the expression program (issue 17): its inputs are that program's.
    expect(run.spec.inputs).toEqual({ program: 'expression', expression: '1+2+3' });
    expect(run.spec.limits.timeout_ms).toBe(60_000);
    expect(Number(run.fence)).toBeGreaterThan(0);
    expect(await getTask(ctx.app, task.task_id, h)).toMatchObject({
      status: 'running',
      attempts: 1,
      assigned_nodes: [agent.nodeId],
    });

    const accepted = await agent.report(run, 'ok', { sum: 6 });
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json()).toMatchObject({ run_status: 'succeeded', task_status: 'completed' });
    const again = await agent.report(run, 'ok', { sum: 6 });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(accepted.json());

    const done = await getTask(ctx.app, task.task_id, h);
    expect(done).toMatchObject({ status: 'completed', result: { sum: 6 }, attempts: 1 });
    expect(done.runs).toEqual([
      expect.objectContaining({
        run_id: run.run_id,
        node_id: agent.nodeId,
        status: 'succeeded',
        outcome: 'ok',
      }),
    ]);
    const [row] = await ctx.dataSource.query(
      `SELECT inputs_hash, output_hash, started_at, completed_at, node_owner_id, fence::text AS fence
         FROM task_runs WHERE run_id = $1`,
      [run.run_id],
    );
    expect(row.inputs_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.output_hash).toBe(done.runs![0].output_hash);
    expect(row.started_at).not.toBeNull();
    expect(row.completed_at).not.toBeNull();
    expect(row.node_owner_id).toBe(bob.userId);
    expect(row.fence).toBe(run.fence);
    const asBob = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${task.task_id}`,
      headers: bearer(bob.accessToken),
    });
    expect(asBob.statusCode).toBe(404);
  });

  it('2: 200 concurrent claims from 8 nodes lease each of 100 tasks exactly once, one run per node and task', async () => {
    const h = bearer(alice.accessToken);
    const tasks = new Set<string>();
    for (let i = 0; i < 100; i++) tasks.add((await submitTask(ctx.app, h)).task_id);
    const agents = await Promise.all(Array.from({ length: 8 }, () => newAgent()));
    const claims = await Promise.all(
      Array.from({ length: 200 }, (_, i) => agents[i % agents.length].claim({ max: 1, wait_ms: 0 })),
    );
    const leased = claims.flat().filter((run) => tasks.has(run.task_id));
    expect(leased).toHaveLength(100);
    expect(new Set(leased.map((run) => run.task_id)).size).toBe(100);
    expect(new Set(leased.map((run) => run.fence)).size).toBe(100);
    const rows = await ctx.dataSource.query(
      `SELECT task_id, count(*)::int AS runs, count(DISTINCT node_id)::int AS nodes FROM task_runs
        WHERE task_id = ANY($1::uuid[]) GROUP BY task_id`,
      [[...tasks]],
    );
    expect(rows).toHaveLength(100);
    expect(rows.every((row: { runs: number; nodes: number }) => row.runs === 1 && row.nodes === 1)).toBe(
      true,
    );
    // Clean up: nothing of this test stays claimable for the next ones.
    for (const id of tasks)
      await ctx.app.inject({ method: 'POST', url: `/api/v1/tasks/${id}/cancel`, headers: h });
  });

  it('3: an unrenewed lease expires, another node completes the run, the late result is 409 lease_lost', async () => {
    const h = bearer(alice.accessToken);
    const task = await submitTask(ctx.app, h, { max_attempts: 3 });
    const first = await newAgent();
    const second = await newAgent();
    const [run1] = await first.claim();
    expect(run1.task_id).toBe(task.task_id);

    const renewal = await first.heartbeat([run1]);
    expect(renewal.json().leases).toEqual({ renewed: [run1.run_id], lost: [], cancel: [] });

    await expireLease(run1.run_id);
    expect((await first.heartbeat([run1])).json().leases).toEqual({
      renewed: [],
      lost: [run1.run_id],
      cancel: [],
    });
    expect(await sweep()).toMatchObject({ expired: 1, requeued: 1 });
    // The operator's line names the node that lost the lease, not only how many were lost.
    const warned = await logs.onlyLine(
      (line) => line.msg === 'leases expired' && JSON.stringify(line.nodes).includes(first.nodeId),
    );
    expect(warned).toMatchObject({ expired: 1, requeued: 1, nodes: [first.nodeId] });
    expect(await sweep()).toMatchObject({ expired: 0, requeued: 0 });
    expect(await getTask(ctx.app, task.task_id, h)).toMatchObject({ status: 'pending', assigned_nodes: [] });

    expect(await first.claim()).toEqual([]); // distinct nodes per task: not the node that lost it
    const [run2] = await second.claim();
    expect(run2).toMatchObject({ task_id: task.task_id });
    expect(BigInt(run2.fence)).toBeGreaterThan(BigInt(run1.fence));
    expect((await second.report(run2, 'ok', { sum: 6 })).statusCode).toBe(200);

    const late = await first.report(run1, 'ok', { sum: 999 });
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({ error: 'conflict', reason: 'lease_lost' });
    const done = await getTask(ctx.app, task.task_id, h);
    expect(done).toMatchObject({ status: 'completed', result: { sum: 6 }, attempts: 2 });
    expect(done.runs!.map((r) => r.status)).toEqual(['expired', 'succeeded']);
    // Another node cannot report on a run leased to someone else.
    expect((await first.report(run2, 'ok', { sum: 6 })).json().reason).toBe('lease_lost');
  });

  it('3: attempts run out → failed: attempts_exhausted', async () => {
    const h = bearer(alice.accessToken);
    const task = await submitTask(ctx.app, h, { max_attempts: 2 });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const agent = await newAgent();
      const [run] = await agent.claim();
      expect(run.task_id).toBe(task.task_id);
      await expireLease(run.run_id);
      await sweep();
    }
    expect(await getTask(ctx.app, task.task_id, h)).toMatchObject({
      status: 'failed',
      status_reason: 'attempts_exhausted',
      attempts: 2,
    });
    expect(await (await newAgent()).claim()).toEqual([]);
  });

  it('4: two nodes reporting the same trap fail the task as unexecutable after two runs', async () => {
    const h = bearer(alice.accessToken);
    const task = await submitTask(ctx.app, h, { max_attempts: 5 });
    const first = await newAgent();
    const [run1] = await first.claim();
    expect(run1.task_id).toBe(task.task_id);
    const trap1 = await first.report(run1, 'trap', null, { stderr: 'unreachable' });
    expect(trap1.json()).toMatchObject({ run_status: 'failed', task_status: 'pending' });
    const second = await newAgent();
    const [run2] = await second.claim();
    expect(run2.task_id).toBe(task.task_id);
    const trap2 = await second.report(run2, 'trap', null, { stderr: 'unreachable' });
    expect(trap2.json()).toMatchObject({ task_status: 'failed', task_status_reason: 'unexecutable' });
    expect(await getTask(ctx.app, task.task_id, h)).toMatchObject({
      status: 'failed',
      status_reason: 'unexecutable',
      attempts: 2,
    });
  });

  it('5: cancel tells the leasing node to stop at its next heartbeat; its result is then lease_lost', async () => {
    const h = bearer(alice.accessToken);
    const task = await submitTask(ctx.app, h);
    const agent = await newAgent();
    const [run] = await agent.claim();
    expect(run.task_id).toBe(task.task_id);
    await ctx.app.inject({ method: 'POST', url: `/api/v1/tasks/${task.task_id}/cancel`, headers: h });
    expect((await agent.heartbeat([run])).json().leases).toEqual({
      renewed: [],
      lost: [],
      cancel: [run.run_id],
    });
    expect((await agent.report(run, 'ok', { sum: 6 })).statusCode).toBe(409);
  });

  it('long poll: an idle claim is woken by a submission; with nothing to do it answers 204', async () => {
    const agent = await newAgent();
    const idle = await agent.claimRaw({ max: 1, wait_ms: 200 });
    expect(idle.statusCode).toBe(204);
    const waiting = agent.claim({ max: 1, wait_ms: 20_000 });
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const [run] = await waiting;
    expect(run.task_id).toBe(task.task_id);
    expect((await agent.report(run, 'ok', 1)).statusCode).toBe(200);
  });

  it('the node protocol is closed to user credentials and to other nodes', async () => {
    const agent = await newAgent();
    const other = await newAgent();
    const asUser = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/nodes/${agent.nodeId}/claim`,
      headers: bearer(bob.accessToken),
      payload: {},
    });
    expect(asUser.statusCode).toBe(403);
    const asOtherNode = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/nodes/${agent.nodeId}/claim`,
      headers: { 'x-api-key': other.node.node_api_key },
      payload: {},
    });
    expect(asOtherNode.statusCode).toBe(404);
    expect((await agent.claimRaw({ max: 17 })).statusCode).toBe(422);
  });
});
