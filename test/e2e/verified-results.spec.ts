import { LeaseSweeper } from '../../src/scheduling/lease-sweeper';
import { LeasedRun, TestAgent } from '../support/agent';
import { useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { scrape, valueOf } from '../support/prometheus';
import {
  FIRST,
  LIE,
  QUORUM_APP_ENV,
  QUORUM_TASK,
  honest,
  quorumAgents,
  reputationOf,
} from '../support/quorum';
import { getTask, submitTask } from '../support/tasks';

/** Issue 18 acceptance 1, 2 and the quorum rules (3 and adaptive replication: verified-receipts.spec.ts), with test agents of distinct owners making HTTP calls. */
describeEachDatabase('verified results on %s', (database) => {
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

  it('acceptance 1: three nodes, one liar: 100 quorum tasks complete with the honest output, every lie is invalid, the liar is quarantined', async () => {
    const [h1, h2, liar] = [await agentOf(), await agentOf(), await agentOf()];
    const tasks = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        submitTask(ctx.app, bearer(alice.accessToken), {
          ...QUORUM_TASK,
          inputs: { numbers: [i, 1], operation: 'sum' },
        }),
      ),
    );
    const ids = new Set(tasks.map((t) => t.task_id));
    let liarRefused: string | null = null;
    // Round-robin: the liar claims first each round, so it takes part in as many tasks as it can.
    for (let round = 0; round < 200; round++) {
      let worked = 0;
      for (const agent of [liar, h1, h2]) {
        if (agent === liar && liarRefused) continue;
        const res = await agent.claimRaw({ max: 10, wait_ms: 0 });
        if (res.statusCode === 403) {
          liarRefused = res.json<{ reason: string }>().reason;
          continue;
        }
        if (res.statusCode === 204) continue;
        for (const run of res.json<{ runs: LeasedRun[] }>().runs) {
          worked++;
          const answer = await agent.report(run, 'ok', agent === liar ? LIE : honest(run));
          expect(answer.statusCode).toBe(200);
          // Nothing in the node's answer reveals the other runs' outputs.
          expect(Object.keys(answer.json()).sort()).toEqual(
            ['run_id', 'run_status', 'task_id', 'task_status', 'task_status_reason'].sort(),
          );
        }
      }
      const [{ open }] = await ctx.dataSource.query(
        `SELECT count(*)::int AS open FROM tasks WHERE task_id = ANY($1::uuid[]) AND status <> 'completed'`,
        [[...ids]],
      );
      if (open === 0) break;
      if (worked === 0) throw new Error(`stuck with ${open} open tasks`);
    }
    expect(liarRefused).toBe('node_quarantined');

    const results = await ctx.dataSource.query(
      `SELECT t.status, t.result, t.inputs, c.node_id AS canonical_node FROM tasks t
         LEFT JOIN task_runs c ON c.run_id = t.canonical_run_id WHERE t.task_id = ANY($1::uuid[])`,
      [[...ids]],
    );
    expect(results).toHaveLength(100);
    for (const row of results) {
      expect(row.status).toBe('completed');
      expect(row.result).toEqual({ echo: row.inputs });
      expect([h1.nodeId, h2.nodeId]).toContain(row.canonical_node);
    }
    const liarRuns = await ctx.dataSource.query(
      `SELECT verdict, count(*)::int AS n FROM task_runs WHERE node_id = $1 AND status = 'succeeded' GROUP BY verdict`,
      [liar.nodeId],
    );
    expect(liarRuns.length).toBe(1);
    expect(liarRuns[0].verdict).toBe('invalid');
    const lies = liarRuns[0].n as number;
    expect(lies).toBeGreaterThanOrEqual(3);
    const [{ honestInvalid }] = await ctx.dataSource.query(
      `SELECT count(*)::int AS "honestInvalid" FROM task_runs WHERE node_id = ANY($1) AND verdict = 'invalid'`,
      [[h1.nodeId, h2.nodeId]],
    );
    expect(honestInvalid).toBe(0);

    const audit = await ctx.dataSource.query(
      `SELECT action, count(*)::int AS n FROM audit_log
        WHERE action IN ('run.invalid', 'node.quarantined') AND (metadata->>'node_id' = $1 OR resource_id = $1)
        GROUP BY action ORDER BY action`,
      [liar.nodeId],
    );
    expect(audit).toEqual([
      { action: 'node.quarantined', n: 1 },
      { action: 'run.invalid', n: lies },
    ]);
    const { samples } = await scrape(ctx.app);
    expect(valueOf(samples, 'vcp_runs_verified_total', { verdict: 'invalid' })).toBe(lies);
    expect(valueOf(samples, 'vcp_runs_verified_total', { verdict: 'valid' })).toBeGreaterThanOrEqual(200);
    expect(valueOf(samples, 'vcp_quorum_mismatches_total')).toBeGreaterThanOrEqual(1);
    const { reputation } = await nodeView(liar);
    expect(reputation).toMatchObject({ invalid: lies, valid: 0, quarantined: true, score: 0 });
    expect(String(reputation.quarantine_reason)).toContain('compared results were outvoted');
    const honestView = await nodeView(h1);
    expect(honestView.reputation).toMatchObject({ invalid: 0, quarantined: false });
    expect(Number(honestView.reputation.score)).toBeGreaterThan(0.5);

    // Reputation is the health score's reliability term: same telemetry, the liar scores lower.
    const scoreOf = async (agent: TestAgent) =>
      (
        await ctx.app.inject({
          method: 'PUT',
          url: `/api/v1/nodes/${agent.nodeId}/heartbeat`,
          headers: apiKeyHeader(agent.node.node_api_key),
          payload: { cpu_usage: 10, memory_usage: 10, network_latency_ms: 10 },
        })
      ).json<{ health_score: number }>().health_score;
    const [liarScore, honestScore] = [await scoreOf(liar), await scoreOf(h1)];
    expect(honestScore - liarScore).toBeGreaterThan(5);

    // An admin lifts the quarantine; the node claims again.
    const reinstated = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/nodes/${liar.nodeId}/reinstate`,
      headers: bearer(ctx.admin.accessToken),
    });
    expect(reinstated.statusCode).toBe(200);
    expect(reinstated.json().reputation).toMatchObject({ quarantined: false, quarantine_reason: null });
    const [lifted] = await ctx.dataSource.query(
      `SELECT user_id FROM audit_log WHERE action = 'node.quarantine_lifted' AND resource_id = $1`,
      [liar.nodeId],
    );
    expect(lifted.user_id).toBe(ctx.admin.userId);
    expect((await liar.claimRaw({ max: 1, wait_ms: 0 })).statusCode).toBe(204);
  });

  it('acceptance 2: two nodes of one owner never both serve one quorum task, even claiming concurrently', async () => {
    const owner = await operator('twin');
    const [a, b] = [await agentOf(owner), await agentOf(owner)];
    const other = await agentOf();
    const tasks = await Promise.all(
      Array.from({ length: 30 }, () => submitTask(ctx.app, bearer(alice.accessToken), QUORUM_TASK)),
    );
    const ids = tasks.map((t) => t.task_id);
    const claimed = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).claimRaw({ max: 10, wait_ms: 0 })),
    );
    for (const res of claimed) expect([200, 204]).toContain(res.statusCode);
    // Whatever raced, the twins then take what is left, one at a time, until neither gets anything.
    while ((await a.claim({ max: 10, wait_ms: 0 })).length + (await b.claim({ max: 10, wait_ms: 0 })).length);
    const twinRuns = await ctx.dataSource.query(
      `SELECT task_id, count(*)::int AS n FROM task_runs
        WHERE task_id = ANY($1::uuid[]) AND node_id = ANY($2) GROUP BY task_id`,
      [ids, [a.nodeId, b.nodeId]],
    );
    expect(twinRuns.length).toBe(30);
    expect(twinRuns.filter((row: { n: number }) => row.n !== 1)).toEqual([]);
    // The other owner's node takes the second slot of every task.
    expect(
      (await other.claim({ max: 16, wait_ms: 0 })).length +
        (await other.claim({ max: 16, wait_ms: 0 })).length,
    ).toBe(30);

    // The database refuses it too (negative control for the claim's own filter): a second run of one owner.
    // A run of either twin (the race may have given every run to one of them), offered to the other twin.
    const [row] = await ctx.dataSource.query(
      `SELECT r.task_id, r.node_id, r.node_owner_id FROM task_runs r WHERE r.node_id = ANY($1) LIMIT 1`,
      [[a.nodeId, b.nodeId]],
    );
    const sibling = row.node_id === a.nodeId ? b.nodeId : a.nodeId;
    await expect(
      ctx.dataSource.query(
        `INSERT INTO task_runs (task_id, node_id, node_owner_id, status, lease_expires_at, quorum_run)
         VALUES ($1, $2, $3, 'leased', now() + interval '1 minute', true)`,
        [row.task_id, sibling, row.node_owner_id],
      ),
    ).rejects.toThrow(/task_runs_quorum_owner_key/);
  });

  it('results of one quorum task arriving at the same moment decide it exactly once', async () => {
    const [x, y] = [await agentOf(), await agentOf()];
    const tasks = await Promise.all(
      Array.from({ length: 40 }, () => submitTask(ctx.app, bearer(alice.accessToken), FIRST)),
    );
    const [xs, ys] = [await x.claim({ max: 16, wait_ms: 0 }), await y.claim({ max: 16, wait_ms: 0 })];
    const paired = xs.filter((run) => ys.some((other) => other.task_id === run.task_id));
    expect(paired.length).toBeGreaterThanOrEqual(8);
    const answers = await Promise.all(
      [...xs, ...ys].map((run) => (xs.includes(run) ? x : y).report(run, 'ok', honest(run))),
    );
    expect(answers.every((answer) => answer.statusCode === 200)).toBe(true);
    const rows = await ctx.dataSource.query(
      `SELECT t.task_id, t.status, t.canonical_run_id,
              (SELECT count(*)::int FROM task_runs r WHERE r.task_id = t.task_id AND r.verdict = 'valid') AS valid,
              (SELECT count(*)::int FROM task_events e WHERE e.task_id = t.task_id
                  AND e.event_type = 'status' AND e.data->>'status' = 'completed') AS completions
         FROM tasks t WHERE t.task_id = ANY($1::uuid[])`,
      [paired.map((run) => run.task_id)],
    );
    expect(rows).toHaveLength(paired.length);
    for (const row of rows) {
      expect(row).toMatchObject({ status: 'completed', valid: 2, completions: 1 });
      expect(row.canonical_run_id).not.toBeNull();
    }
    // The rest of this batch is left for nobody: cancel it so later tests start from an empty queue.
    for (const task of tasks) {
      await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/tasks/${task.task_id}/cancel`,
        headers: bearer(alice.accessToken),
      });
    }
  });

  it('disagreement seeks one more run on a third owner; max_runs exhausted fails as no_consensus', async () => {
    const [x, y, z] = [await agentOf(), await agentOf(), await agentOf()];
    const h = bearer(alice.accessToken);
    const task = await submitTask(ctx.app, h, FIRST);
    const [rx] = await x.claim();
    const [ry] = await y.claim();
    expect((await x.report(rx, 'ok', { v: 1 })).json()).toMatchObject({ task_status: 'running' });
    // While the task is open its runs' hashes stay hidden (nodes must not learn each other's answers).
    expect((await getTask(ctx.app, task.task_id, h)).runs?.every((r) => r.output_hash === null)).toBe(true);
    // Nor what a counted run printed.
    const succeeded = (await getTask(ctx.app, task.task_id, h)).runs!.find((r) => r.status === 'succeeded')!;
    expect(succeeded).toMatchObject({ exit_code: null, stdout_tail: null, stderr_tail: null });
    const mismatch = "no quorum yet: one more run on another owner's node";
    expect((await y.report(ry, 'ok', { v: 2 })).json()).toMatchObject({
      task_status: 'running',
      task_status_reason: mismatch,
    });
    expect((await getTask(ctx.app, task.task_id, h)).status_reason).toBe(mismatch);
    const [rz] = await z.claim();
    expect(rz.task_id).toBe(task.task_id);
    expect((await z.report(rz, 'ok', { v: 2 })).json()).toMatchObject({ task_status: 'completed' });
    const done = await getTask(ctx.app, task.task_id, h);
    expect(done.result).toEqual({ v: 2 });
    expect(done.runs!.map((r) => r.exit_code)).toEqual([0, 0, 0]); // decided: shown
    const verdicts = Object.fromEntries(
      (done.runs ?? []).map((r) => [r.node_id, (r as { verdict?: string }).verdict]),
    );
    expect(verdicts).toEqual({ [x.nodeId]: 'invalid', [y.nodeId]: 'valid', [z.nodeId]: 'valid' });
    expect(done).toMatchObject({
      verification: { method: 'quorum', quorum: 2, canonical_run_id: rz.run_id },
    });

    // max_runs 2: a disagreement has nowhere to go.
    const strict = await submitTask(ctx.app, h, {
      ...FIRST,
      requirements: { ...QUORUM_TASK.requirements, max_runs: 2 },
    });
    const [sx] = await x.claim();
    const [sy] = await y.claim();
    expect(sx.task_id).toBe(strict.task_id);
    await x.report(sx, 'ok', { v: 1 });
    expect((await y.report(sy, 'ok', { v: 2 })).json()).toMatchObject({
      task_status: 'failed',
      task_status_reason: 'no_consensus',
    });
    const [audit] = await ctx.dataSource.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'task.no_consensus' AND resource_id = $1`,
      [strict.task_id],
    );
    expect(audit.n).toBe(1);
  });

  it('a quorum of 2 out of 3 completes before the third run reports; the late result is still judged', async () => {
    const [x, y, z] = [await agentOf(), await agentOf(), await agentOf()];
    const task = await submitTask(ctx.app, bearer(alice.accessToken), {
      priority: 9,
      requirements: { min_nodes: 3, quorum: 2, max_execution_time_sec: 60 },
    });
    const [[rx], [ry], [rz]] = [await x.claim(), await y.claim(), await z.claim()];
    expect([rx.task_id, ry.task_id, rz.task_id]).toEqual([task.task_id, task.task_id, task.task_id]);
    await x.report(rx, 'ok', { v: 7 });
    expect((await y.report(ry, 'ok', { v: 7 })).json()).toMatchObject({ task_status: 'completed' });
    const late = await z.report(rz, 'ok', { v: 8 });
    expect(late.json()).toMatchObject({ run_status: 'succeeded', task_status: 'completed' });
    const [row] = await ctx.dataSource.query(`SELECT verdict FROM task_runs WHERE run_id = $1`, [rz.run_id]);
    expect(row.verdict).toBe('invalid');
    expect((await nodeView(z)).reputation).toMatchObject({ invalid: 1, valid_streak: 0 });
    expect((await nodeView(x)).reputation).toMatchObject({ valid: 1, valid_streak: 1 });
  });

  it('a quorum task still seeking a run when its queue timeout passes fails as queue_timeout, not while a run is leased', async () => {
    const [x, y] = [await agentOf(), await agentOf()];
    const h = bearer(alice.accessToken);
    // Three owners needed, two exist: after their runs the task waits for a third that never comes.
    const waiting = await submitTask(ctx.app, h, {
      ...FIRST,
      requirements: { min_nodes: 3, max_execution_time_sec: 60 },
    });
    const [[rx], [ry]] = [await x.claim(), await y.claim()];
    expect([rx.task_id, ry.task_id]).toEqual([waiting.task_id, waiting.task_id]);
    await x.report(rx, 'ok', { v: 1 });
    expect((await y.report(ry, 'ok', { v: 1 })).json()).toMatchObject({ task_status: 'running' });
    // The control: a quorum task whose run is leased right now is working, not waiting.
    const working = await submitTask(ctx.app, h, FIRST);
    const [rw] = await x.claim();
    expect(rw.task_id).toBe(working.task_id);
    await ctx.dataSource.query(
      `UPDATE tasks SET queue_expires_at = now() - interval '1 second' WHERE task_id = ANY($1)`,
      [[waiting.task_id, working.task_id]],
    );
    await ctx.app.get(LeaseSweeper).sweep();
    expect(await getTask(ctx.app, waiting.task_id, h)).toMatchObject({
      status: 'failed',
      status_reason: 'queue_timeout',
    });
    expect((await getTask(ctx.app, working.task_id, h)).status).toBe('running');
    await ctx.app.inject({ method: 'POST', url: `/api/v1/tasks/${working.task_id}/cancel`, headers: h });
  });

  it('refuses quorum settings that cannot decide, with the field named', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ min_nodes: 4, quorum: 2 }, 'requirements.quorum'],
      [{ min_nodes: 2, quorum: 3 }, 'requirements.quorum'],
      [{ min_nodes: 3, max_runs: 2 }, 'requirements.max_runs'],
    ];
    for (const [requirements, field] of cases) {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: bearer(alice.accessToken),
        payload: {
          task_type: 'computation',
          inputs: { numbers: [1], operation: 'sum' },
          requirements: { max_execution_time_sec: 60, ...requirements },
        },
      });
      expect(res.statusCode).toBe(422);
      expect(res.json().details[0].field).toBe(field);
    }
  });
});
