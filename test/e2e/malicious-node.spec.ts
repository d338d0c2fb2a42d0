import { useAdminApp } from '../support/admin';
import { LeasedRun, signedOkResult, TestAgent } from '../support/agent';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { FIRST, honest, quorumAgents, reputationOf } from '../support/quorum';
import { getTask, submitTask } from '../support/tasks';
import { registerCircuit, zkFixture } from '../support/zk';

/**
 * A node operator who registered legitimately and cheats with what that gives: its nodes' keys, their signing
 * keys and its own user account. Each attack is refused, or earns nothing, as README promises.
 */
describe('a malicious node operator', () => {
  const ctx = useAdminApp({
    env: { TASK_RETRY_BASE_MS: '0', SCHEDULER_SWEEP_INTERVAL_SECS: '3600', RUN_LEASE_SECS: '120' },
  });
  const { operator, agentOf } = quorumAgents(ctx);
  let alice: Session;
  let mallory: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    mallory = await newSession(ctx.app, 'mallory');
  });
  afterAll(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  /** An ok result for `run`, signed with `signer`'s key, as a third-party node builds it. */
  const signedResult = (signer: TestAgent, run: LeasedRun, output: unknown) =>
    signedOkResult(run, output, signer.keys.privateKey);
  const post = (sender: TestAgent, runId: string, body: object) =>
    ctx.app.inject({
      method: 'POST',
      url: `/api/v1/runs/${runId}/result`,
      headers: apiKeyHeader(sender.node.node_api_key),
      payload: body,
    });
  const runState = async (runId: string) => {
    const [row] = await ctx.dataSource.query<{ status: string; outcome: string | null }[]>(
      `SELECT status, outcome FROM task_runs WHERE run_id = $1`,
      [runId],
    );
    return row;
  };
  const claimOf = async (agent: TestAgent, taskId: string) => {
    const [run] = await agent.claim();
    expect(run?.task_id).toBe(taskId);
    return run;
  };

  it('replays a signed result onto a new run of the same inputs, or of the same task: refused, nothing completes', async () => {
    const inputs = { numbers: [5, 6], operation: 'sum' };
    const node = await TestAgent.register(ctx.app, bearer(mallory.accessToken));
    const first = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9, inputs });
    const run1 = await claimOf(node, first.task_id);
    const old = signedResult(node, run1, { sum: 11 });
    const accepted = await post(node, run1.run_id, old);
    expect(accepted.json()).toMatchObject({ task_status: 'completed' });

    const second = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9, inputs });
    const run2 = await claimOf(node, second.task_id);
    // As it was: its fence is the old lease's.
    expect((await post(node, run2.run_id, old)).json()).toMatchObject({ reason: 'lease_lost' });
    expect(await runState(run2.run_id)).toEqual({ status: 'leased', outcome: null });
    // With the new fence: the receipt binds task, run and fence, so the old signature is not over it.
    const refitted = await post(node, run2.run_id, { ...old, fence: run2.fence });
    expect([refitted.statusCode, refitted.json().reason]).toEqual([422, 'signature_invalid']);
    expect(await runState(run2.run_id)).toEqual({ status: 'expired', outcome: 'signature_invalid' });
    expect(await getTask(ctx.app, second.task_id, bearer(alice.accessToken))).toMatchObject({
      status: 'pending',
      result: null,
    });
    // Onto its own finished run: the first answer again, and nothing else.
    const repeat = await post(node, run1.run_id, old);
    expect([repeat.statusCode, repeat.json()]).toEqual([200, accepted.json()]);

    // The same task, leased again to the same node one lease after it handed it back: a result signed for
    // the earlier lease is refused under either fence.
    const third = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9, inputs });
    const earlier = await claimOf(node, third.task_id);
    const presigned = signedResult(node, earlier, { sum: 11 });
    expect((await node.release(earlier)).statusCode).toBe(204);
    await ctx.dataSource.query(
      `UPDATE task_runs SET completed_at = now() - interval '1 hour' WHERE run_id = $1`,
      [earlier.run_id],
    );
    const later = await claimOf(node, third.task_id);
    expect((await post(node, later.run_id, presigned)).json()).toMatchObject({ reason: 'lease_lost' });
    expect((await post(node, earlier.run_id, presigned)).json()).toMatchObject({ reason: 'lease_lost' });
    const onLater = await post(node, later.run_id, { ...presigned, fence: later.fence });
    expect(onLater.json()).toMatchObject({ reason: 'signature_invalid' });
    expect((await getTask(ctx.app, third.task_id, bearer(alice.accessToken))).status).toBe('pending');
    // Out of the queue, so that the next tests' nodes claim their own tasks.
    for (const { task_id } of [second, third]) {
      const cancel = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/tasks/${task_id}/cancel`,
        headers: bearer(alice.accessToken),
      });
      expect(cancel.statusCode).toBe(200);
    }
  });

  it('reports for a run leased to its other node, under either key: 409 lease_lost, the lease untouched', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
    const holder = await TestAgent.register(ctx.app, bearer(mallory.accessToken));
    const sibling = await TestAgent.register(ctx.app, bearer(mallory.accessToken));
    const run = await claimOf(holder, task.task_id);

    for (const signer of [holder, sibling]) {
      const res = await post(sibling, run.run_id, signedResult(signer, run, { sum: 6 }));
      expect([res.statusCode, res.json().reason]).toEqual([409, 'lease_lost']);
    }
    // Its heartbeat cannot renew the sibling's lease either.
    expect((await sibling.heartbeat([run])).json().leases).toEqual({
      renewed: [],
      lost: [run.run_id],
      cancel: [],
    });
    // Neither attempt ended the lease nor reached anyone's record.
    expect(await runState(run.run_id)).toEqual({ status: 'leased', outcome: null });
    const audited = await ctx.dataSource.query(`SELECT action FROM audit_log WHERE resource_id = $1`, [
      run.run_id,
    ]);
    expect(audited).toEqual([]);
    expect((await holder.report(run, 'ok', { sum: 6 })).json()).toMatchObject({ task_status: 'completed' });
  });

  it('holds a lease by heartbeats without reporting: renewed no further than max_execution_time_sec + 900 s', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
    const node = await TestAgent.register(ctx.app, bearer(mallory.accessToken));
    const claimKey = { 'idempotency-key': `hog-${task.task_id}` };
    const [run] = await node.claim({ max: 1, wait_ms: 0 }, claimKey);
    expect(run.task_id).toBe(task.task_id);
    const leaseEnd = async () => {
      const [row] = await ctx.dataSource.query<{ ends_in: number }[]>(
        `SELECT extract(epoch FROM lease_expires_at - now())::float8 AS ends_in FROM task_runs WHERE run_id = $1`,
        [run.run_id],
      );
      return row.ends_in;
    };
    /** As if the run had been claimed `secs` ago (60 s is the task's max_execution_time_sec). */
    const claimedAgo = (secs: number) =>
      ctx.dataSource.query(
        `UPDATE task_runs SET started_at = now() - $2::int * interval '1 second' WHERE run_id = $1`,
        [run.run_id, secs],
      );

    // Close to its deadline, a renewal extends the lease up to it and no further.
    await claimedAgo(60 + 900 - 10);
    expect((await node.heartbeat([run])).json().leases.renewed).toEqual([run.run_id]);
    expect(await leaseEnd()).toBeLessThanOrEqual(10);
    // Past it, neither a heartbeat nor a repeated claim renews it: the lease runs out and counts as lost.
    await ctx.dataSource.query(
      `UPDATE task_runs SET lease_expires_at = now() + interval '5 seconds' WHERE run_id = $1`,
      [run.run_id],
    );
    await claimedAgo(60 + 900 + 1);
    expect((await node.heartbeat([run])).json().leases).toEqual({
      renewed: [],
      lost: [run.run_id],
      cancel: [],
    });
    const repeated = await node.claim({ max: 1, wait_ms: 0 }, claimKey);
    expect(repeated.map((r) => r.run_id)).not.toContain(run.run_id);
    expect(await leaseEnd()).toBeLessThanOrEqual(5);
    // Cancelled: else the lease sweep (due RUN_LEASE_SECS, 120 s, after this file's first lease: within its run
    // on a loaded machine) requeues the task at top priority, and the next tests' fresh nodes lease it instead
    // of their own.
    const cancelled = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/tasks/${task.task_id}/cancel`,
      headers: bearer(alice.accessToken),
    });
    expect(cancelled.statusCode).toBe(200);
  });

  it('cannot earn reputation on tasks its owner created: one proof on many of its own zk tasks, or a lie there, counts nothing', async () => {
    const circuitId = await registerCircuit(ctx.app, bearer(ctx.admin.accessToken), 'multiplier', 'groth16');
    const { proof, publicSignals } = zkFixture('multiplier', 'groth16');
    const zkTask = (creator: Session) =>
      submitTask(ctx.app, bearer(creator.accessToken), {
        task_type: 'zk_proof',
        circuit_id: circuitId,
        inputs: { public_signals: publicSignals },
        priority: 9,
      });
    const prove = async (node: TestAgent, taskId: string) => {
      const run = await claimOf(node, taskId);
      const output = { proof, public_signals: publicSignals };
      const res = await node.report(run, 'ok', output, { proof, public_signals: publicSignals });
      expect(res.json()).toMatchObject({ run_status: 'succeeded', task_status: 'completed' });
      return run;
    };
    const node = await TestAgent.register(ctx.app, bearer(mallory.accessToken));

    // The tasks Mallory created complete with the proof (it is a proof), but her node's record stays empty.
    for (let i = 0; i < 3; i++) {
      const run = await prove(node, (await zkTask(mallory)).task_id);
      const [{ verdict }] = await ctx.dataSource.query<{ verdict: string }[]>(
        `SELECT verdict FROM task_runs WHERE run_id = $1`,
        [run.run_id],
      );
      expect(verdict).toBe('valid');
    }
    // Nor does a lie there (a well-formed proof that does not verify): it harms only Mallory.
    const ownTask = await zkTask(mallory);
    const lie = await claimOf(node, ownTask.task_id);
    const tampered = { ...proof, pi_a: proof.pi_c, pi_c: proof.pi_a };
    const refused = await node.report(
      lie,
      'ok',
      { proof: tampered, public_signals: publicSignals },
      {
        proof: tampered,
        public_signals: publicSignals,
      },
    );
    expect(refused.json()).toMatchObject({ run_status: 'rejected' });
    const [{ verdict: lieVerdict }] = await ctx.dataSource.query<{ verdict: string }[]>(
      `SELECT verdict FROM task_runs WHERE run_id = $1`,
      [lie.run_id],
    );
    expect(lieVerdict).toBe('invalid');
    // Queued again for another node: cancelled, so that the next tests' fresh nodes do not lease it.
    const cancelled = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/tasks/${ownTask.task_id}/cancel`,
      headers: bearer(mallory.accessToken),
    });
    expect(cancelled.statusCode).toBe(200);
    expect((await reputationOf(ctx, node)).reputation).toMatchObject({
      valid: 0,
      invalid: 0,
      valid_streak: 0,
    });
    // Someone else's task is work that counts.
    await prove(node, (await zkTask(alice)).task_id);
    expect((await reputationOf(ctx, node)).reputation).toMatchObject({ valid: 1, valid_streak: 1 });
  });

  it('agreeing on its own quorum task earns its node nothing; the other owner’s node is credited', async () => {
    const owner = await operator('self');
    const [own, other] = [await agentOf(owner), await agentOf()];
    const task = await submitTask(ctx.app, bearer(owner.accessToken), FIRST);
    for (const node of [own, other]) {
      const run = await claimOf(node, task.task_id);
      expect((await node.report(run, 'ok', honest(run))).statusCode).toBe(200);
    }
    const done = await getTask(ctx.app, task.task_id, bearer(owner.accessToken));
    expect(done.status).toBe('completed');
    expect(done.runs?.map((r) => r.verdict)).toEqual(['valid', 'valid']);
    expect((await reputationOf(ctx, own)).reputation).toMatchObject({ valid: 0, valid_streak: 0 });
    expect((await reputationOf(ctx, other)).reputation).toMatchObject({ valid: 1, valid_streak: 1 });
  });

  it('lies in its heartbeat telemetry: out-of-range or non-numeric values are 422 naming the field, the score kept', async () => {
    const node = await TestAgent.register(ctx.app, bearer(mallory.accessToken));
    const beat = (payload: object) =>
      ctx.app.inject({
        method: 'PUT',
        url: `/api/v1/nodes/${node.nodeId}/heartbeat`,
        headers: apiKeyHeader(node.node.node_api_key),
        payload,
      });
    const honestBeat = await beat({ cpu_usage: 20, memory_usage: 40, network_latency_ms: 50 });
    const score = honestBeat.json<{ health_score: number }>().health_score;
    const lies: [string, object][] = [
      ['cpu_usage', { cpu_usage: -50 }],
      ['cpu_usage', { cpu_usage: 101 }],
      ['cpu_usage', { cpu_usage: 1e308 }],
      ['cpu_usage', { cpu_usage: 'NaN' }],
      ['memory_usage', { memory_usage: '-Infinity' }],
      ['disk_usage', { disk_usage: -0.01 }],
      ['network_latency_ms', { network_latency_ms: -1 }],
      ['network_latency_ms', { network_latency_ms: 1e12 }],
      ['active_tasks', { active_tasks: -3 }],
      ['active_tasks', { active_tasks: 1.5 }],
    ];
    for (const [field, payload] of lies) {
      // Beside a flattering valid value: the whole heartbeat is refused, not just the field.
      const res = await beat({ network_latency_ms: 0, ...payload });
      expect({
        payload,
        status: res.statusCode,
        fields: res.json().details?.map((d: { field: string }) => d.field),
      }).toEqual({ payload, status: 422, fields: [field] });
    }
    const view = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/nodes/${node.nodeId}`,
      headers: bearer(mallory.accessToken),
    });
    expect(view.json()).toMatchObject({ health_score: score });
  });
});
