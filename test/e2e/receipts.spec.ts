import { createHash } from 'node:crypto';
import { jsonSha256Hex } from '../../src/common/crypto/json-hash';
import { verifyEd25519 } from '../../src/common/receipts/receipt';
import { checkReceipt } from '../../src/receipts/receipt-check';
import { SignedTaskReceipt, taskReceiptBytes } from '../../src/receipts/task-receipt';
import { useAdminApp } from '../support/admin';
import { outputHash, TestAgent } from '../support/agent';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { ORIGINAL_TASK, submitTask } from '../support/tasks';

/** Issue 18: the signed receipt of a completed task, checkable offline against the server's public key. */
describe('task receipts', () => {
  const ctx = useAdminApp({
    database: 'pglite',
    env: { TASK_RETRY_BASE_MS: '0', SCHEDULER_SWEEP_INTERVAL_SECS: '3600' },
  });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  const receiptOf = (taskId: string, headers: Record<string, string>) =>
    ctx.app.inject({ method: 'GET', url: `/api/v1/tasks/${taskId}/receipt`, headers });

  const publicKey = async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/api/v1/receipts/public-key' });
    expect(res.statusCode).toBe(200);
    return res.json<{ algorithm: string; public_key: string; key_id: string }>();
  };

  it('publishes the server key without authentication', async () => {
    const key = await publicKey();
    expect(key.algorithm).toBe('Ed25519');
    expect(Buffer.from(key.public_key, 'base64')).toHaveLength(32);
    const id = createHash('sha256').update(Buffer.from(key.public_key, 'base64')).digest('hex');
    expect(key.key_id).toBe(id);
  });

  it('a task completed through the node protocol has a receipt that every check holds for', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await agent.claim();
    expect(run.task_id).toBe(task.task_id);
    const done = await agent.report(run, 'ok', { sum: 6 });
    expect(done.json()).toMatchObject({ task_status: 'completed' });

    const res = await receiptOf(task.task_id, bearer(alice.accessToken));
    // Waits on the result path storing receipt, signature and canonical_run_id (else 409 receipt_unavailable).
    expect({ status: res.statusCode, body: res.statusCode === 200 ? null : res.json() }).toEqual({
      status: 200,
      body: null,
    });
    const signed = res.json<SignedTaskReceipt>();
    const key = await publicKey();
    expect(checkReceipt(signed, { publicKey: key.public_key }).filter((check) => !check.holds)).toEqual([]);
    expect(verifyEd25519(taskReceiptBytes(signed.receipt), signed.signature, key.public_key)).toBe(true);
    expect(signed.receipt).toMatchObject({
      version: 1,
      task_id: task.task_id,
      task_type: ORIGINAL_TASK.task_type,
      inputs_hash: jsonSha256Hex(run.spec.inputs),
      verification: 'none',
      min_nodes: 1,
      quorum: 1,
      output_hash: outputHash({ sum: 6 }),
      canonical_run_id: run.run_id,
      server_public_key: key.public_key,
      server_key_id: key.key_id,
    });
    expect(signed.receipt).not.toHaveProperty('proof_id');
    // What decides the module's output beside its inputs: the defaults the submission left (no args, deterministic).
    expect(signed.receipt).toMatchObject({ args: [], deterministic: true });
    expect(signed.receipt.runs).toEqual([
      expect.objectContaining({
        run_id: run.run_id,
        node_id: agent.nodeId,
        node_public_key: agent.keys.publicKeyBase64,
        receipt: expect.objectContaining({ run_id: run.run_id, outcome: 'ok', fence: run.fence }),
      }),
    ]);
    if (run.spec.module_id) expect(signed.receipt.module_hash).toBe(run.spec.module_id);

    // The creator's API key with tasks:read, and an admin, get it too; a changed output hash no longer holds.
    expect((await receiptOf(task.task_id, apiKeyHeader(alice.apiKey))).statusCode).toBe(200);
    expect((await receiptOf(task.task_id, bearer(ctx.admin.accessToken))).statusCode).toBe(200);
    const tampered = { ...signed, receipt: { ...signed.receipt, output_hash: outputHash({ sum: 7 }) } };
    expect(
      checkReceipt(tampered)
        .filter((check) => !check.holds)
        .map((check) => check.name),
    ).toEqual(['server signature', 'outputs agree']);
  });

  it('an open task is 409 task_not_completed', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const res = await receiptOf(task.task_id, bearer(alice.accessToken));
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: 'conflict', reason: 'task_not_completed' });
  });

  it('another user’s task, an unknown task and a malformed id are the same 404 as the task read', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const asBob = bearer(bob.accessToken);
    const read = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${task.task_id}`,
      headers: asBob,
    });
    expect(read.statusCode).toBe(404);
    for (const id of [task.task_id, '3f2504e0-4f89-41d3-9a0c-0305e82c3301', 'not-a-uuid']) {
      const res = await receiptOf(id, asBob);
      expect(res.statusCode).toBe(404);
      expect({ error: res.json().error, message: res.json().message }).toEqual({
        error: read.json().error,
        message: read.json().message,
      });
    }
  });

  it('needs credentials', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    expect((await receiptOf(task.task_id, {})).statusCode).toBe(401);
  });
});
