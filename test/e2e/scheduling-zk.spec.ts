import { join } from 'node:path';
import { useAdminApp } from '../support/admin';
import { generateNodeKeyPair, proofHash, signReceipt } from '../../src/common/receipts/receipt';
import { ProofVerificationService } from '../../src/proofs/proof-verification.service';
import { LeasedRun, outputHash, receiptFor, TestAgent } from '../support/agent';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { expect422 } from '../support/validation';
import { getTask, ORIGINAL_TASK, submitTask } from '../support/tasks';
import { fixture, sha256, uniqueFixture } from '../support/wasm';
import { ZK_FIXTURES, zkFixture, registerCircuit } from '../support/zk';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const snarkjs = require('snarkjs') as {
  groth16: {
    fullProve(
      input: Record<string, string>,
      wasm: string,
      zkey: string,
    ): Promise<{ proof: Record<string, unknown>; publicSignals: string[] }>;
  };
};

/** The multiplier circuit proves knowledge of a, b with c = a·b; its public signals are [c, b]. */
const STATEMENT = ['33', '11'];
const prove = (a: string, b: string) =>
  snarkjs.groth16.fullProve(
    { a, b },
    join(ZK_FIXTURES, 'multiplier.wasm'),
    join(ZK_FIXTURES, 'multiplier.groth16.zkey'),
  );

/** Acceptance 6 of issue 16: a zk_proof task completes only with a proof of its circuit and statement. */
describe('zk_proof tasks', () => {
  const ctx = useAdminApp({
    env: { TASK_RETRY_BASE_MS: '0', SCHEDULER_SWEEP_INTERVAL_SECS: '3600', NODE_MAX_CONCURRENT_RUNS: '100' },
  });
  let alice: Session;
  let bob: Session;
  let circuitId: string;
  let otherStatement: { proof: Record<string, unknown>; publicSignals: string[] };

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
    circuitId = await registerCircuit(ctx.app, bearer(ctx.admin.accessToken), 'multiplier', 'groth16');
    // A valid proof, generated here, of another statement: 35 = 5 · 7.
    otherStatement = await prove('5', '7');
  });
  afterAll(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  const newAgent = () => TestAgent.register(ctx.app, bearer(bob.accessToken));
  const zkTask = (overrides: Record<string, unknown> = {}) =>
    submitTask(ctx.app, bearer(alice.accessToken), {
      task_type: 'zk_proof',
      circuit_id: circuitId,
      inputs: { public_signals: STATEMENT, witness: { a: '3', b: '11' } },
      ...overrides,
    });
  const claimTask = async (agent: TestAgent, taskId: string): Promise<LeasedRun> => {
    const run = (await agent.claim({ max: 16, wait_ms: 0 })).find((r) => r.task_id === taskId);
    expect(run).toBeDefined();
    return run!;
  };
  const reportProof = (agent: TestAgent, run: LeasedRun, proof: object, publicSignals: string[]) =>
    agent.report(
      run,
      'ok',
      { proof, public_signals: publicSignals },
      { proof, public_signals: publicSignals },
    );
  const artifactsOf = (taskId: string) =>
    ctx.dataSource.query(
      `SELECT proof_id, run_id, verified, error_message FROM proof_artifacts WHERE task_id = $1 ORDER BY verified_at`,
      [taskId],
    );

  it('submission states the statement: inputs.public_signals, checked against the circuit', async () => {
    const h = bearer(alice.accessToken);
    const post = (inputs: unknown) =>
      ctx.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: h,
        payload: { ...ORIGINAL_TASK, task_type: 'zk_proof', circuit_id: circuitId, inputs },
      });
    expect422(await post({ witness: {} }), 'inputs.public_signals');
    expect422(await post({ public_signals: ['33'] }), 'inputs.public_signals');
    expect422(await post({ public_signals: ['033', '11'] }), 'inputs.public_signals[0]');
    expect((await post({ public_signals: STATEMENT })).statusCode).toBe(201);
  });

  it('a module (module_id or wasm_module) is a 422 and stores nothing: the prover signs no module_hash', async () => {
    const modules = (): Promise<unknown[]> =>
      ctx.dataSource.query(
        `SELECT (SELECT count(*) FROM wasm_modules)::int AS modules, (SELECT count(*) FROM module_owners)::int AS owners`,
      );
    const stored = fixture('echo');
    const upload = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...bearer(alice.accessToken), 'content-type': 'application/wasm' },
      payload: stored,
    });
    expect(upload.statusCode).toBeLessThan(300);
    const before = await modules();
    const post = (extra: object) =>
      ctx.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: bearer(alice.accessToken),
        payload: {
          ...ORIGINAL_TASK,
          task_type: 'zk_proof',
          circuit_id: circuitId,
          inputs: { public_signals: STATEMENT },
          ...extra,
        },
      });
    expect422(await post({ wasm_module: uniqueFixture('echo').toString('base64') }), 'wasm_module');
    expect422(await post({ module_id: sha256(stored) }), 'module_id');
    expect(await modules()).toEqual(before);
  });

  it('a proof that verifies for the circuit and the task’s statement completes it, stored with task and run', async () => {
    const task = await zkTask();
    const agent = await newAgent();
    const run = await claimTask(agent, task.task_id);
    expect(run.spec.inputs).toEqual({ public_signals: STATEMENT, witness: { a: '3', b: '11' } });
    const { proof, publicSignals } = zkFixture('multiplier', 'groth16');
    expect(publicSignals).toEqual(STATEMENT);

    const res = await reportProof(agent, run, proof, publicSignals);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ run_status: 'succeeded', task_status: 'completed' });
    const done = await getTask(ctx.app, task.task_id, bearer(alice.accessToken));
    const [artifact] = await artifactsOf(task.task_id);
    expect(artifact).toMatchObject({ run_id: run.run_id, verified: true, error_message: null });
    expect(done).toMatchObject({ status: 'completed', proof_id: artifact.proof_id });

    // The task's proof reads back for its creator and for the owner of the node that made it, no one else.
    const readProof = (headers: Record<string, string>) =>
      ctx.app.inject({ method: 'GET', url: `/api/v1/proofs/${artifact.proof_id}`, headers });
    const stored = await readProof(bearer(alice.accessToken));
    expect(stored.statusCode).toBe(200);
    expect(stored.json()).toMatchObject({
      proof_id: artifact.proof_id,
      circuit_id: circuitId,
      valid: true,
      task_id: task.task_id,
      run_id: run.run_id,
      proof,
      public_signals: STATEMENT,
    });
    expect((await readProof(bearer(bob.accessToken))).json()).toEqual(stored.json());
    const carol = await newSession(ctx.app, 'carol');
    expect((await readProof(bearer(carol.accessToken))).statusCode).toBe(404);
  });

  /**
   * A claimed run of a fresh zk task and the fixture proof's result as a third-party node reports it: its
   * proof and statement as output and beside it (`extra`), and `body`, the receipt's fields without a proof_hash.
   */
  const claimedZkResult = async () => {
    const task = await zkTask();
    const agent = await newAgent();
    const run = await claimTask(agent, task.task_id);
    const { proof, publicSignals } = zkFixture('multiplier', 'groth16');
    const output = { proof, public_signals: publicSignals };
    const body = {
      fence: run.fence,
      outcome: 'ok',
      output,
      output_hash: outputHash(output),
      execution_time_ms: 12,
    };
    return {
      task,
      agent,
      run,
      proof,
      publicSignals,
      output,
      body,
      extra: { proof, public_signals: publicSignals },
    };
  };

  it('a zk result the node did not sign is refused before its proof costs a verifier thread', async () => {
    const check = jest.spyOn(ctx.app.get(ProofVerificationService), 'check');
    try {
      const { task, agent, run, output, body, extra } = await claimedZkResult();
      const forged = signReceipt(receiptFor(run, body), generateNodeKeyPair().privateKey);
      const refused = await agent.report(run, 'ok', output, { ...extra, signature: forged });
      expect(refused.statusCode).toBe(422);
      expect(refused.json()).toMatchObject({ reason: 'signature_invalid' });
      expect(check).not.toHaveBeenCalled();
      expect(await artifactsOf(task.task_id)).toEqual([]);
      // Its lease was given back: another node takes the task, and its own signature over the same result is
      // verified (once) and completes it.
      expect(await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).toMatchObject({
        status: 'pending',
      });
      expect((await agent.report(run, 'ok', output, extra)).json()).toMatchObject({ reason: 'lease_lost' });
      const other = await newAgent();
      const retry = await claimTask(other, task.task_id);
      const accepted = await other.report(retry, 'ok', output, extra);
      expect(accepted.json()).toMatchObject({ task_status: 'completed' });
      expect(check).toHaveBeenCalledTimes(1);
    } finally {
      check.mockRestore();
    }
  });

  it('a zk run’s spec names its circuit and the URLs of its artifacts, readable with the node’s key', async () => {
    const task = await zkTask();
    const agent = await newAgent();
    const run = await claimTask(agent, task.task_id);
    const base = `/api/v1/circuits/${circuitId}`;
    expect(run.spec).toMatchObject({
      circuit_id: circuitId,
      circuit_wasm_url: `${base}/wasm`,
      circuit_zkey_url: `${base}/zkey`,
    });
    const spec = run.spec as unknown as Record<string, string>;
    for (const url of [spec.circuit_wasm_url, spec.circuit_zkey_url]) {
      const res = await ctx.app.inject({
        method: 'GET',
        url,
        headers: apiKeyHeader(agent.node.node_api_key),
      });
      expect(res.statusCode).toBe(200);
    }
  });

  it('the signed receipt binds the proof the result carries (proof_hash of its proof and public_signals)', async () => {
    // A third-party node reporting the proof and its statement as output and beside it, as README pins the body.
    const refusedRun = await claimedZkResult();
    const withoutProofHash = signReceipt(
      receiptFor(refusedRun.run, refusedRun.body),
      refusedRun.agent.keys.privateKey,
    );
    const unbound = await refusedRun.agent.report(refusedRun.run, 'ok', refusedRun.output, {
      ...refusedRun.extra,
      signature: withoutProofHash,
    });
    expect([unbound.statusCode, unbound.json().reason]).toEqual([422, 'signature_invalid']);
    // That refusal gave its lease back: the binding receipt is checked on a run of its own.
    const { agent, run, proof, publicSignals, output, body, extra } = await claimedZkResult();
    const receipt = { ...receiptFor(run, body), proof_hash: proofHash(proof, publicSignals) };
    const signature = signReceipt(receipt, agent.keys.privateKey);
    const accepted = await agent.report(run, 'ok', output, { ...extra, signature });
    expect([accepted.statusCode, accepted.json().task_status]).toEqual([200, 'completed']);
    const [stored] = await ctx.dataSource.query(`SELECT receipt FROM task_runs WHERE run_id = $1`, [
      run.run_id,
    ]);
    expect(stored.receipt).toMatchObject({ proof_hash: proofHash(proof, publicSignals) });
  });

  it('a valid proof of another statement is rejected; the task goes to another node, then fails proof_invalid', async () => {
    const task = await zkTask({ max_attempts: 2 });
    const first = await newAgent();
    const run1 = await claimTask(first, task.task_id);
    const res1 = await reportProof(first, run1, otherStatement.proof, otherStatement.publicSignals);
    expect(res1.json()).toMatchObject({ run_status: 'rejected', task_status: 'pending' });
    expect(await first.claim({ max: 16, wait_ms: 0 })).not.toContainEqual(
      expect.objectContaining({ task_id: task.task_id }),
    );

    const second = await newAgent();
    const run2 = await claimTask(second, task.task_id);
    // A tampered proof of the right statement: well formed, but it does not verify.
    const { proof } = zkFixture('multiplier', 'groth16');
    const tampered = { ...proof, pi_a: otherStatement.proof.pi_a };
    const res2 = await reportProof(second, run2, tampered, STATEMENT);
    expect(res2.json()).toMatchObject({
      run_status: 'rejected',
      task_status: 'failed',
      task_status_reason: 'proof_invalid',
    });

    const done = await getTask(ctx.app, task.task_id, bearer(alice.accessToken));
    expect(done).toMatchObject({
      status: 'failed',
      status_reason: 'proof_invalid',
      proof_id: null,
      result: null,
    });
    // A false proof is the node's fault (invalid); a valid proof of other signals is not judged: the task's
    // declared statement may be what is wrong, and no task creator may get honest nodes quarantined.
    expect(done.runs!.map((r) => [r.status, r.outcome, r.verdict])).toEqual([
      ['rejected', 'proof_invalid', null],
      ['rejected', 'proof_invalid', 'invalid'],
    ]);
    const invalidCounts = await ctx.dataSource.query(
      `SELECT runs_invalid AS invalid FROM nodes WHERE node_id = ANY($1) ORDER BY node_id = $2 DESC`,
      [[first.nodeId, second.nodeId], first.nodeId],
    );
    expect(invalidCounts.map((row: { invalid: number }) => Number(row.invalid))).toEqual([0, 1]);
    const artifacts = await artifactsOf(task.task_id);
    expect(artifacts.map((a: { run_id: string; verified: boolean }) => [a.run_id, a.verified])).toEqual([
      [run1.run_id, false],
      [run2.run_id, false],
    ]);
    expect(artifacts[0].error_message).toContain('public signals differ');
  });

  it('an ok zk result without a proof, or a proof on another task type, is a 422 that completes nothing', async () => {
    const task = await zkTask();
    const agent = await newAgent();
    const run = await claimTask(agent, task.task_id);
    expect422(await agent.report(run, 'ok', 1), 'proof');
    const plain = await submitTask(ctx.app, bearer(alice.accessToken));
    const plainRun = await claimTask(agent, plain.task_id);
    const { proof, publicSignals } = zkFixture('multiplier', 'groth16');
    expect422(await reportProof(agent, plainRun, proof, publicSignals), 'proof');
    // Each refusal ended its node's lease (result_invalid, refused-results.spec): both tasks are queued again,
    // their attempts given back, and the node's late proof is too late.
    for (const { task_id } of [task, plain]) {
      expect(await getTask(ctx.app, task_id, bearer(alice.accessToken))).toMatchObject({
        status: 'pending',
        attempts: 0,
      });
    }
    expect((await reportProof(agent, run, proof, publicSignals)).json()).toMatchObject({
      reason: 'lease_lost',
    });
    const other = await newAgent();
    const retry = await claimTask(other, task.task_id);
    expect((await reportProof(other, retry, proof, publicSignals)).json()).toMatchObject({
      task_status: 'completed',
    });
  });

  it('an ok zk result whose output is not {proof, public_signals} (its own proof) is a 422 naming output', async () => {
    const check = jest.spyOn(ctx.app.get(ProofVerificationService), 'check');
    try {
      const { proof, publicSignals } = zkFixture('multiplier', 'groth16');
      for (const output of [
        { answer: 42, note: 'anything the node says' },
        null,
        { public_signals: publicSignals },
        { proof, public_signals: publicSignals, extra: 1 },
        { proof: { ...proof, pi_a: proof.pi_c }, public_signals: publicSignals },
      ]) {
        const task = await zkTask();
        const agent = await newAgent();
        const run = await claimTask(agent, task.task_id);
        const res = await agent.report(run, 'ok', output, { proof, public_signals: publicSignals });
        expect422(res, 'output');
        // Refused before a verifier thread ran, and its lease ended: the task is queued again.
        expect(await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).toMatchObject({
          status: 'pending',
          result: null,
        });
      }
      expect(check).not.toHaveBeenCalled();
      // Negative control: the same proof with output {proof, public_signals} completes, and is the result.
      const task = await zkTask();
      const agent = await newAgent();
      const run = await claimTask(agent, task.task_id);
      expect((await reportProof(agent, run, proof, publicSignals)).json()).toMatchObject({
        task_status: 'completed',
      });
      expect(await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).toMatchObject({
        result: { proof, public_signals: publicSignals },
      });
    } finally {
      check.mockRestore();
    }
  });
});
