import { LeasedRun, outputHash, TestAgent } from '../support/agent';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { Headers } from '../support/nodes';
import { getTask, submitTask } from '../support/tasks';
import { useTestApp } from '../support/app';

/**
 * A result body the server refuses before reading it (not JSON: 400; failing validation: 422) from the node
 * holding the run's live lease ends that lease at once, as a refused signature does: outcome `result_invalid`,
 * an error on the node's record, the task queued again with its attempt given back. The answer is what it was.
 * Anyone else's refused body changes nothing.
 */
describeEachDatabase('a refused result body, on %s', (database) => {
  // No sweep: a lease can only end here by the refusal, never by expiring meanwhile.
  const ctx = useTestApp({ database, env: { SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  /** A fresh task (one attempt) leased to a fresh node. */
  async function leased() {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9, max_attempts: 1 });
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await agent.claim();
    expect(run.task_id).toBe(task.task_id);
    return { task, agent, run };
  }

  /** POST /runs/:run_id/result with a raw payload (a string goes as it is, as JSON's content type). */
  const post = (run: LeasedRun, headers: Headers, payload: string | object, extra: Headers = {}) =>
    ctx.app.inject({
      method: 'POST',
      url: `/api/v1/runs/${run.run_id}/result`,
      headers: { ...headers, 'content-type': 'application/json', ...extra },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  const state = async (run: LeasedRun) => {
    const [row] = await ctx.dataSource.query(
      `SELECT r.status, r.outcome, t.status AS task_status, t.attempts, n.runs_error, n.runs_lost
         FROM task_runs r JOIN tasks t USING (task_id) JOIN nodes n ON n.node_id = r.node_id
        WHERE r.run_id = $1`,
      [run.run_id],
    );
    return row as Record<string, unknown>;
  };
  const stillLeased = { status: 'leased', outcome: null, task_status: 'running', attempts: 1, runs_error: 0 };

  const answer = (res: { statusCode: number; json: () => Record<string, unknown> }) => {
    const { request_id, ...body } = res.json();
    expect(request_id).toEqual(expect.any(String));
    return { status: res.statusCode, body };
  };

  /** The run ended as result_invalid, uncharged, audited; another node leases its task at once. */
  async function expectEndedUncharged(task: { task_id: string }, run: LeasedRun, agent: TestAgent) {
    expect(await state(run)).toEqual({
      status: 'expired',
      outcome: 'result_invalid',
      task_status: 'pending',
      attempts: 0,
      runs_error: 1,
      runs_lost: 0,
    });
    const audit = await ctx.dataSource.query(
      `SELECT action, metadata, user_id, ip_address, request_id FROM audit_log WHERE resource_id = $1
        ORDER BY created_at`,
      [run.run_id],
    );
    // Who sent it, as for any audited request: the node key's owner, the key, the client and the request.
    expect(audit).toEqual([
      {
        action: 'run.result_invalid',
        metadata: {
          task_id: task.task_id,
          node_id: agent.nodeId,
          fence: run.fence,
          api_key_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        },
        user_id: bob.userId,
        ip_address: expect.any(String),
        request_id: expect.any(String),
      },
    ]);
    // The node's own correct result now comes too late: the lease is gone.
    expect((await agent.report(run, 'ok', 6)).json()).toMatchObject({ reason: 'lease_lost' });
    const other = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [retry] = await other.claim();
    expect(retry.task_id).toBe(task.task_id);
    expect((await other.report(retry, 'ok', 6)).json()).toMatchObject({ task_status: 'completed' });
  }

  it('a body failing validation (422, answered as before) ends its node’s lease; nobody else’s does', async () => {
    const { task, agent, run } = await leased();
    const invalid = { fence: run.fence, outcome: 'bogus', output_hash: 'x', execution_time_ms: 1 };
    const refusal = {
      status: 422,
      body: {
        error: 'validation_error',
        message: 'Request validation failed',
        details: [
          { field: 'outcome', message: expect.stringContaining('outcome must be one of') },
          { field: 'output_hash', message: 'output_hash must be a lowercase hex SHA-256' },
          { field: 'signature', message: 'signature is required' },
        ],
      },
    };
    // Another node, a user's key, the holder under another fence: refused as ever, and nothing changes.
    const stranger = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    expect(answer(await post(run, apiKeyHeader(stranger.node.node_api_key), invalid))).toEqual(refusal);
    const byUser = await post(run, bearer(bob.accessToken), invalid);
    expect(byUser.statusCode).toBe(403);
    const holder = apiKeyHeader(agent.node.node_api_key);
    const otherFence = { ...invalid, fence: String(BigInt(run.fence) + 1000n) };
    expect(answer(await post(run, holder, otherFence))).toEqual(refusal);
    expect(await state(run)).toMatchObject(stillLeased);

    expect(answer(await post(run, holder, invalid))).toEqual(refusal);
    await expectEndedUncharged(task, run, agent);
    // A repeat finds the lease ended: the same answer, no second error on the node's record.
    expect(answer(await post(run, holder, invalid))).toEqual(refusal);
    expect(await state(run)).toMatchObject({ outcome: 'result_invalid', runs_error: 1 });
  });

  it('a body that is not JSON (400, answered as before) ends its node’s lease; another node’s does not', async () => {
    const { task, agent, run } = await leased();
    const notJson = `{"fence": "${run.fence}", "outcome": `;
    const refusal = {
      status: 400,
      body: {
        error: 'bad_request',
        message: "Body is not valid JSON but content-type is set to 'application/json'",
      },
    };
    const stranger = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    expect(answer(await post(run, apiKeyHeader(stranger.node.node_api_key), notJson))).toEqual(refusal);
    expect(await state(run)).toMatchObject(stillLeased);

    expect(answer(await post(run, apiKeyHeader(agent.node.node_api_key), notJson))).toEqual(refusal);
    await expectEndedUncharged(task, run, agent);
  });

  it('a body the parser refuses as unstorable (422, answered as before) ends it too', async () => {
    const first = await leased();
    const nul = `{"fence": "${first.run.fence}", "outcome": "ok", "stdout": "a\\u0000b"}`;
    const unstorable = answer(await post(first.run, apiKeyHeader(first.agent.node.node_api_key), nul));
    expect(unstorable).toEqual({
      status: 422,
      body: {
        error: 'validation_error',
        message: 'Request validation failed',
        details: [{ field: 'stdout', message: expect.any(String) }],
      },
    });
    await expectEndedUncharged(first.task, first.run, first.agent);
  });

  it('a body that reads but does not hold together (422 from the service, answered as before) ends it too', async () => {
    // Signed, so only the service's own checks refuse it: an output_hash not of its output; a proof, or public
    // signals, on a task that takes none.
    for (const [field, extra] of [
      ['output_hash', { output_hash: outputHash(7) }],
      ['proof', { proof: { pi_a: ['1'] } }],
      ['public_signals', { public_signals: ['1'] }],
    ] as const) {
      const { task, agent, run } = await leased();
      const refused = answer(await agent.report(run, 'ok', 6, extra));
      expect(refused).toEqual({
        status: 422,
        body: expect.objectContaining({
          error: 'validation_error',
          details: [expect.objectContaining({ field })],
        }),
      });
      await expectEndedUncharged(task, run, agent);
    }
  });

  it('a malformed Claim-Next header beside a valid body (422) leaves the lease: the result may come again', async () => {
    const { task, agent, run } = await leased();
    const res = await agent.report(run, 'ok', 6, {}, { 'claim-next': '0' });
    expect(answer(res)).toEqual({
      status: 422,
      body: {
        error: 'validation_error',
        message: 'Claim-Next: Claim-Next must be a whole number from 1 to 16',
        details: [{ field: 'Claim-Next', message: 'Claim-Next must be a whole number from 1 to 16' }],
      },
    });
    expect(await state(run)).toMatchObject(stillLeased);
    // The same result with an invalid body as well: the body's refusal is answered, and it ends the lease.
    const both = await post(
      run,
      apiKeyHeader(agent.node.node_api_key),
      { fence: run.fence },
      { 'claim-next': '0' },
    );
    expect(answer(both).body).toMatchObject({ message: 'Request validation failed' });
    await expectEndedUncharged(task, run, agent);
  });

  it('a lease past its time is not ended by a refusal: it stays for the sweep, as a lost lease', async () => {
    const { task, agent, run } = await leased();
    await ctx.dataSource.query(
      `UPDATE task_runs SET lease_expires_at = now() - interval '1 second' WHERE run_id = $1`,
      [run.run_id],
    );
    const res = await post(run, apiKeyHeader(agent.node.node_api_key), '{');
    expect(res.statusCode).toBe(400);
    expect(await state(run)).toMatchObject(stillLeased);
    // The control: the same refusal on a live lease ends it.
    const live = await leased();
    expect((await post(live.run, apiKeyHeader(live.agent.node.node_api_key), '{')).statusCode).toBe(400);
    expect(await state(live.run)).toMatchObject({ status: 'expired', outcome: 'result_invalid' });
    for (const { task_id } of [task, live.task]) {
      await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/tasks/${task_id}/cancel`,
        headers: bearer(alice.accessToken),
      });
    }
    expect((await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).status).toBe('cancelled');
  });
});
