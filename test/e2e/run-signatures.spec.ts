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
      `SELECT action, status, metadata FROM audit_log WHERE resource_id = $1 ORDER BY created_at`,
      [runId],
    );

  it('a result signed with another key is refused (422 signature_invalid), audited, and changes nothing', async () => {
    const h = bearer(alice.accessToken);
    const task = await submitTask(ctx.app, h);
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await agent.claim();
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
        metadata: expect.objectContaining({ task_id: task.task_id, node_id: agent.nodeId }),
      }),
    ]);
    expect(await getTask(ctx.app, task.task_id, h)).toMatchObject({ status: 'running', result: null });
    // The node's own signature over the very same receipt is accepted.
    const accepted = await agent.report(run, 'ok', { sum: 6 });
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json()).toMatchObject({ task_status: 'completed' });
  });

  it('the signature binds every receipt field: the right key over a different outcome or time is refused', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await agent.claim();
    expect(run.task_id).toBe(task.task_id);
    const body = {
      fence: run.fence,
      outcome: 'ok',
      output: 7,
      output_hash: outputHash(7),
      execution_time_ms: 12,
    };
    const signedTime = signReceipt(
      receiptFor(run, { ...body, execution_time_ms: 13 }),
      agent.keys.privateKey,
    );
    const res = await agent.report(run, 'ok', 7, { signature: signedTime });
    expect(res.statusCode).toBe(422);
    expect(res.json().reason).toBe('signature_invalid');
    const signedOutcome = signReceipt(receiptFor(run, { ...body, outcome: 'trap' }), agent.keys.privateKey);
    expect((await agent.report(run, 'ok', 7, { signature: signedOutcome })).json().reason).toBe(
      'signature_invalid',
    );
    // Not base64 of 64 bytes at all: the same refusal, never a 500.
    expect((await agent.report(run, 'ok', 7, { signature: 'not a signature' })).statusCode).toBe(422);
    expect((await agent.report(run, 'ok', 7)).statusCode).toBe(200);
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
