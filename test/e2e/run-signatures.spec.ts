import { generateNodeKeyPair, receiptBytes, signReceipt } from '../../src/common/receipts/receipt';
import { TestAgent, outputHash, receiptFor } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { useTestApp } from '../support/app';
import { registerNode } from '../support/nodes';
import { getTask, submitTask } from '../support/tasks';

/** Issue 17, acceptance 3: results are signed by the node's registered key, or refused (and audited). */
describe('signed run results', () => {
  const ctx = useTestApp({ env: { TASK_RETRY_BASE_MS: '0', SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  const auditRows = (runId: string) =>
    ctx.dataSource.query(
      `SELECT action, status, metadata, user_id, ip_address, request_id FROM audit_log WHERE resource_id = $1
        ORDER BY created_at`,
      [runId],
    );

  it('a result signed with another key is refused (422 signature_invalid), audited, and its lease given back uncharged', async () => {
    const h = bearer(alice.accessToken);
    const task = await submitTask(ctx.app, h, { priority: 9, max_attempts: 1 });
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await agent.claim();
    expect(run.task_id).toBe(task.task_id);
    const body = {
      fence: run.fence,
      outcome: 'ok',
      output: { sum: 6 },
      output_hash: outputHash({ sum: 6 }),
      execution_time_ms: 12,
    };
    const forged = signReceipt(receiptFor(run, body), generateNodeKeyPair().privateKey);
    const refused = await agent.report(run, 'ok', { sum: 6 }, { signature: forged });
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({
      error: 'validation_error',
      reason: 'signature_invalid',
      details: [{ field: 'signature' }],
    });
    expect(await auditRows(run.run_id)).toEqual([
      expect.objectContaining({
        action: 'run.signature_invalid',
        status: 'failure',
        metadata: expect.objectContaining({
          task_id: task.task_id,
          node_id: agent.nodeId,
          api_key_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        }),
        // Who sent it: the node key's owner, the client and the request.
        user_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        ip_address: expect.any(String),
        request_id: refused.json().request_id,
      }),
    ]);
    // The node's fault, not the task's: the run ends now, the task is queued again with its one attempt left,
    // and the node's record counts an error.
    const [row] = await ctx.dataSource.query(
      `SELECT r.status, r.outcome, t.attempts, n.runs_error, n.runs_lost
         FROM task_runs r JOIN tasks t USING (task_id) JOIN nodes n ON n.node_id = r.node_id WHERE r.run_id = $1`,
      [run.run_id],
    );
    expect(row).toEqual({
      status: 'expired',
      outcome: 'signature_invalid',
      attempts: 0,
      runs_error: 1,
      runs_lost: 0,
    });
    expect(await getTask(ctx.app, task.task_id, h)).toMatchObject({ status: 'pending', result: null });
    // Its lease is gone: even the node's own signature now is a lost lease, and its heartbeat hears it lost.
    expect((await agent.report(run, 'ok', { sum: 6 })).json()).toMatchObject({ reason: 'lease_lost' });
    const beat = await agent.heartbeat([{ run_id: run.run_id, fence: run.fence }]);
    expect(beat.json().leases).toEqual({ renewed: [], lost: [run.run_id], cancel: [] });
    // Another node takes it at once, on the attempt the refused run did not use up.
    const other = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [retry] = await other.claim();
    expect(retry.task_id).toBe(task.task_id);
    expect((await other.report(retry, 'ok', { sum: 6 })).json()).toMatchObject({ task_status: 'completed' });
  });

  it('the signature binds every receipt field: the right key over a different outcome or time is refused', async () => {
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    /** A run of a fresh task, and a result body for it. */
    const leased = async () => {
      const task = await submitTask(ctx.app, bearer(alice.accessToken), { priority: 9 });
      const [run] = await agent.claim();
      expect(run.task_id).toBe(task.task_id);
      const body = {
        fence: run.fence,
        outcome: 'ok',
        output: 7,
        output_hash: outputHash(7),
        execution_time_ms: 12,
      };
      return { task, run, body };
    };
    const timed = await leased();
    const signedTime = signReceipt(
      receiptFor(timed.run, { ...timed.body, execution_time_ms: 13 }),
      agent.keys.privateKey,
    );
    const res = await agent.report(timed.run, 'ok', 7, { signature: signedTime });
    expect(res.statusCode).toBe(422);
    expect(res.json().reason).toBe('signature_invalid');
    const other = await leased();
    const signedOutcome = signReceipt(
      receiptFor(other.run, { ...other.body, outcome: 'trap' }),
      agent.keys.privateKey,
    );
    expect((await agent.report(other.run, 'ok', 7, { signature: signedOutcome })).json().reason).toBe(
      'signature_invalid',
    );
    // Not base64 of 64 bytes at all: the same refusal, never a 500.
    const garbled = await leased();
    expect((await agent.report(garbled.run, 'ok', 7, { signature: 'not a signature' })).statusCode).toBe(422);
    // The control: the node's own signature over the receipt as it is.
    const signed = await leased();
    expect((await agent.report(signed.run, 'ok', 7)).statusCode).toBe(200);
    // The refused tasks went back to the queue: out of the next tests' way.
    for (const { task } of [timed, other, garbled]) {
      const url = `/api/v1/tasks/${task.task_id}/cancel`;
      await ctx.app.inject({ method: 'POST', url, headers: bearer(alice.accessToken) });
    }
  });

  it('the receipt is the pinned JCS form: keys sorted, absent fields omitted (never null)', () => {
    const bytes = receiptBytes({
      task_id: 't',
      run_id: 'r',
      fence: '7',
      module_hash: 'm',
      inputs_hash: 'i',
      output_hash: 'o',
      outcome: 'ok',
      execution_time_ms: 5,
    }).toString('utf8');
    expect(bytes).toBe(
      '{"execution_time_ms":5,"fence":"7","inputs_hash":"i","module_hash":"m","outcome":"ok","output_hash":"o","run_id":"r","task_id":"t"}',
    );
  });

  it('a node registered without a public key gets no work (403 no_public_key): its results could not be checked', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const node = await registerNode(ctx.app, bearer(bob.accessToken));
    const agent = new TestAgent(ctx.app, node, generateNodeKeyPair());
    const claim = await agent.claimRaw();
    expect(claim.statusCode).toBe(403);
    expect(claim.json()).toMatchObject({ error: 'forbidden', reason: 'no_public_key' });
    // The task waits for a node that can sign: one with a key leases it.
    const signer = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    expect((await signer.claim()).map((run) => run.task_id)).toContain(task.task_id);
  });
});
