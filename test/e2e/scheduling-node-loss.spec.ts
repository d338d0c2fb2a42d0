import { randomBytes } from 'node:crypto';
import { NodeLivenessSweeper } from '../../src/nodes/node-liveness.sweeper';
import { LeaseSweeper } from '../../src/scheduling/lease-sweeper';
import { useAdminApp } from '../support/admin';
import { LeasedRun, TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { scrape, valueOf } from '../support/prometheus';
import { getTask, ORIGINAL_TASK, submitTask } from '../support/tasks';

const TOKEN = 'scrape-token-' + randomBytes(12).toString('hex');
const SCRAPE = { authorization: `Bearer ${TOKEN}` };
const CPU_ONLY = { bandwidth_mbps: 100, cpu_cores: 2, memory_gb: 4, gpu_available: false };

/** Issue 16: a lost node's leases are released at once; a pending task says why it waits; task metrics. */
describeEachDatabase('node loss, wait reasons and task metrics on %s', (database) => {
  const ctx = useAdminApp({
    database,
    env: {
      TASK_RETRY_BASE_MS: '0',
      SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
      NODE_MAX_CONCURRENT_RUNS: '100',
      METRICS_TOKEN: TOKEN,
    },
  });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  const newAgent = async (capabilities?: object) =>
    TestAgent.register(ctx.app, bearer(bob.accessToken), capabilities ? { capabilities } : {});
  /** A fresh task leased to `agent` (it may lease other queued tasks too; this one is among them). */
  const leaseTo = async (agent: TestAgent): Promise<{ taskId: string; run: LeasedRun }> => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { max_attempts: 3 });
    const run = (await agent.claim({ max: 16, wait_ms: 0 })).find((r) => r.task_id === task.task_id);
    expect(run).toBeDefined();
    return { taskId: task.task_id, run: run! };
  };
  const metric = async (name: string, labels: Record<string, string>) =>
    valueOf((await scrape(ctx.app, SCRAPE)).samples, name, labels);

  const LOSSES: [string, string, (agent: TestAgent) => Promise<void>][] = [
    [
      'deleting',
      'node_deleted',
      async (agent) => {
        const res = await ctx.app.inject({
          method: 'DELETE',
          url: `/api/v1/nodes/${agent.nodeId}`,
          headers: bearer(bob.accessToken),
        });
        expect(res.statusCode).toBe(200);
      },
    ],
    [
      'rejecting',
      'node_rejected',
      async (agent) => {
        const res = await ctx.app.inject({
          method: 'POST',
          url: `/api/v1/nodes/${agent.nodeId}/reject`,
          headers: bearer(ctx.admin.accessToken),
        });
        expect(res.statusCode).toBe(200);
      },
    ],
    [
      'the liveness sweep losing',
      'node_offline',
      async (agent) => {
        await ctx.dataSource.query(
          `UPDATE nodes SET last_heartbeat = now() - interval '1 hour' WHERE node_id = $1`,
          [agent.nodeId],
        );
        expect((await ctx.app.get(NodeLivenessSweeper).sweep()).offline).toContain(agent.nodeId);
      },
    ],
  ];

  it.each(LOSSES)(
    '%s a node releases its leased runs at once; another node takes them',
    async (_how, cause, lose) => {
      const lost = await newAgent();
      const kept = await newAgent();
      const mine = await leaseTo(lost);
      const control = await leaseTo(kept);
      const expiredBefore = await metric('vcp_task_leases_expired_total', { cause });

      await lose(lost);

      const released = await getTask(ctx.app, mine.taskId, bearer(alice.accessToken));
      expect(released).toMatchObject({ status: 'pending', assigned_nodes: [] });
      expect(released.runs).toEqual([
        expect.objectContaining({ run_id: mine.run.run_id, status: 'expired', outcome: 'node_lost' }),
      ]);
      // Negative control: a node that was not lost keeps its lease.
      expect(await getTask(ctx.app, control.taskId, bearer(alice.accessToken))).toMatchObject({
        status: 'running',
        assigned_nodes: [kept.nodeId],
      });
      const [audit] = await ctx.dataSource.query(
        `SELECT metadata FROM audit_log WHERE action = 'run.lease_lost' AND resource_id = $1`,
        [mine.run.run_id],
      );
      expect(audit.metadata).toMatchObject({ cause, node_id: lost.nodeId, task_id: mine.taskId });
      expect(await metric('vcp_task_leases_expired_total', { cause })).toBe(expiredBefore + 1);

      const other = await newAgent();
      const retaken = (await other.claim({ max: 16, wait_ms: 0 })).find((r) => r.task_id === mine.taskId);
      expect(retaken).toBeDefined();
      expect((await other.report(retaken!, 'ok', 6)).json()).toMatchObject({ task_status: 'completed' });
      expect((await kept.report(control.run, 'ok', 6)).statusCode).toBe(200);
    },
  );

  it('a pending task’s status_reason says why it waits', async () => {
    const h = bearer(alice.accessToken);
    // Every node of earlier tests leaves, so this test sees only the nodes it registers.
    await ctx.dataSource.query(`UPDATE nodes SET status = 'offline' WHERE status <> 'rejected'`);
    const reason = async (taskId: string) => (await getTask(ctx.app, taskId, h)).status_reason;
    const requirements = ORIGINAL_TASK.requirements;
    const plain = await submitTask(ctx.app, h, { max_attempts: 5 });
    const gpu = await submitTask(ctx.app, h, { requirements: { ...requirements, require_gpu: true } });
    const big = await submitTask(ctx.app, h, { requirements: { ...requirements, min_cpu_cores: 64 } });
    expect(await reason(plain.task_id)).toBe('no online compute node');
    expect(await reason(gpu.task_id)).toBe('no online compute node');

    const agent = await newAgent(CPU_ONLY);
    expect(await reason(plain.task_id)).toBe('waiting for a free node');
    expect(await reason(gpu.task_id)).toBe('no online node with a GPU');
    expect(await reason(big.task_id)).toBe('no online node with the required CPU cores and memory');

    const runs = await agent.claim({ max: 16, wait_ms: 0 });
    expect(runs.map((r) => r.task_id)).toEqual([plain.task_id]);
    expect((await agent.report(runs[0], 'error', null)).json()).toMatchObject({ task_status: 'pending' });
    // The only node may run it again a lease after its failed run ended (not at once: another node first).
    const ranLately =
      'every capable online node ran this task lately: one may run it again a lease after its run ended';
    expect(await reason(plain.task_id)).toBe(ranLately);
    // A task fault from the only node waits for another node to confirm it, and says so.
    const faulty = await submitTask(ctx.app, h);
    const [faultyRun] = await agent.claim({ max: 16, wait_ms: 0 });
    expect(faultyRun.task_id).toBe(faulty.task_id);
    expect((await agent.report(faultyRun, 'trap', null)).json()).toMatchObject({ task_status: 'pending' });
    expect(await reason(faulty.task_id)).toBe(
      `${ranLately}: its trap fails it as unexecutable once another node reports the same`,
    );
    await newAgent(CPU_ONLY);
    expect(await reason(plain.task_id)).toBe('waiting for a free node');
    expect(await reason(faulty.task_id)).toBe('waiting for a free node');

    for (const task of [plain, gpu, big, faulty]) {
      await ctx.app.inject({ method: 'POST', url: `/api/v1/tasks/${task.task_id}/cancel`, headers: h });
    }
  });

  it('the only node retries a task it failed once a lease has passed: attempts, not the queue timeout, end it', async () => {
    const h = bearer(alice.accessToken);
    await ctx.dataSource.query(`UPDATE nodes SET status = 'offline' WHERE status <> 'rejected'`);
    const agent = await newAgent(CPU_ONLY);
    const task = await submitTask(ctx.app, h, { max_attempts: 2 });
    /** What a lease's time does to the task's ended runs: their node's bar on it ends. */
    const aLeaseLater = () =>
      ctx.dataSource.query(
        `UPDATE task_runs SET completed_at = completed_at - interval '1 hour' WHERE task_id = $1`,
        [task.task_id],
      );
    const claimIt = async () =>
      (await agent.claim({ max: 16, wait_ms: 0 })).find((r) => r.task_id === task.task_id);

    // A trap twice from one node is one node's word: attempts run out, the task is not `unexecutable`.
    const first = await claimIt();
    expect((await agent.report(first!, 'trap', null)).json()).toMatchObject({ task_status: 'pending' });
    expect(await claimIt()).toBeUndefined();
    await aLeaseLater();
    const second = await claimIt();
    expect(second).toBeDefined();
    expect((await agent.report(second!, 'trap', null)).json()).toMatchObject({ task_status: 'failed' });
    expect(await getTask(ctx.app, task.task_id, h)).toMatchObject({
      status: 'failed',
      status_reason: 'attempts_exhausted',
      attempts: 2,
    });
  });

  it('a pending task whose every online node may not claim says so, not "waiting for a free node"', async () => {
    const h = bearer(alice.accessToken);
    await ctx.dataSource.query(`UPDATE nodes SET status = 'offline' WHERE status <> 'rejected'`);
    const task = await submitTask(ctx.app, h);
    const reason = async () => (await getTask(ctx.app, task.task_id, h)).status_reason;
    const agent = await newAgent(CPU_ONLY);
    // Its claims are refused (403 node_quarantined, 403 no_public_key): the task would wait forever for it.
    const node = [agent.nodeId];
    const [{ public_key: key }] = await ctx.dataSource.query(
      `SELECT public_key FROM nodes WHERE node_id = $1`,
      node,
    );
    for (const change of ['quarantined_at = now()', 'public_key = NULL']) {
      await ctx.dataSource.query(`UPDATE nodes SET ${change} WHERE node_id = $1`, node);
      expect(await reason()).toBe(
        'no online compute node may take work: each is quarantined or was registered without a public key',
      );
      await ctx.dataSource.query(
        `UPDATE nodes SET quarantined_at = NULL, public_key = $2 WHERE node_id = $1`,
        [...node, key],
      );
    }
    // The control: the same node, reinstated, is simply waited for.
    expect(await reason()).toBe('waiting for a free node');
    await ctx.app.inject({ method: 'POST', url: `/api/v1/tasks/${task.task_id}/cancel`, headers: h });
  });

  it('a running quorum task with no run leased says what it waits for', async () => {
    const h = bearer(alice.accessToken);
    await ctx.dataSource.query(`UPDATE nodes SET status = 'offline' WHERE status <> 'rejected'`);
    const view = (taskId: string) => getTask(ctx.app, taskId, h);
    const quorum = await submitTask(ctx.app, h, {
      requirements: { ...ORIGINAL_TASK.requirements, min_nodes: 2 },
    });
    const first = await newAgent(CPU_ONLY);
    const run = (await first.claim({ max: 16, wait_ms: 0 })).find((r) => r.task_id === quorum.task_id)!;
    // Leased: nothing to explain.
    expect(await view(quorum.task_id)).toMatchObject({ status: 'running', status_reason: null });
    expect((await first.report(run, 'ok', 6)).json()).toMatchObject({ task_status: 'running' });
    expect(await view(quorum.task_id)).toMatchObject({
      status: 'running',
      status_reason:
        'every capable online node has already run this task: its quorum needs a run on another node, of another owner',
    });
    await newAgent(CPU_ONLY); // bob's second node: a node that has not run it, of the owner who has
    expect((await view(quorum.task_id)).status_reason).toBe(
      'its quorum needs a node of another owner: every capable online node belongs to an owner that has run it or whose nodes ended two runs of it (failed, lost, refused or handed back)',
    );
    const carol = await newSession(ctx.app, `carol${randomBytes(3).toString('hex')}`);
    await TestAgent.register(ctx.app, bearer(carol.accessToken), { capabilities: CPU_ONLY });
    expect((await view(quorum.task_id)).status_reason).toBe('waiting for a free node');
    await ctx.app.inject({ method: 'POST', url: `/api/v1/tasks/${quorum.task_id}/cancel`, headers: h });
  });

  it('counts finished tasks by type and status, claims by result, and reports the queue depth', async () => {
    const h = bearer(alice.accessToken);
    const labels = { task_type: 'computation', status: 'completed' };
    const completedBefore = await metric('vcp_tasks_finished_total', labels);
    const cancelledBefore = await metric('vcp_tasks_finished_total', { ...labels, status: 'cancelled' });
    const leasedClaims = () => metric('vcp_task_claim_duration_seconds_count', { result: 'leased' });
    const claimsBefore = await leasedClaims();

    const queued = await submitTask(ctx.app, h, { priority: 9 });
    await ctx.app.get(LeaseSweeper).sweep(); // the gauge is refreshed by the sweep
    const depth = await metric('vcp_tasks_queued', {});
    expect(depth).toBeGreaterThanOrEqual(1);
    const agent = await newAgent();
    const run = (await agent.claim({ max: 16, wait_ms: 0 })).find((r) => r.task_id === queued.task_id)!;
    expect(await leasedClaims()).toBe(claimsBefore + 1);
    await ctx.app.get(LeaseSweeper).sweep();
    expect(await metric('vcp_tasks_queued', {})).toBeLessThan(depth);
    await agent.report(run, 'ok', 1);
    expect(await metric('vcp_tasks_finished_total', labels)).toBe(completedBefore + 1);

    const cancelled = await submitTask(ctx.app, h);
    await ctx.app.inject({ method: 'POST', url: `/api/v1/tasks/${cancelled.task_id}/cancel`, headers: h });
    expect(await metric('vcp_tasks_finished_total', { ...labels, status: 'cancelled' })).toBe(
      cancelledBefore + 1,
    );
  });
});
