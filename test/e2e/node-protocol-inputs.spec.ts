import { randomUUID } from 'node:crypto';
import { proofHash, signReceipt } from '../../src/common/receipts/receipt';
import { LeasedRun, outputHash, receiptFor, signedResult, TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { postTask, submitTask } from '../support/tasks';

/** Values that used to pass validation and fail in SQL (500s), and a correct result the body limit refused. */
describe('node protocol and task inputs at their bounds', () => {
  const ctx = useTestApp({ database: 'pglite', env: { BODY_LIMIT_BYTES: String(1024 * 1024) } });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  const claimOne = async () => {
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    await submitTask(ctx.app, bearer(alice.accessToken));
    const [run] = await agent.claim();
    return { agent, run };
  };

  it('a fence past bigint is a 422 (heartbeat and result), not a 500', async () => {
    const { agent, run } = await claimOne();
    const huge = '9999999999999999999';
    const beat = await agent.heartbeat([{ run_id: run.run_id, fence: huge }]);
    expect([beat.statusCode, beat.json().error]).toEqual([422, 'validation_error']);
    const result = await agent.report({ ...run, fence: huge }, 'ok', 1);
    expect([result.statusCode, result.json().error]).toEqual([422, 'validation_error']);
    // The largest bigint is a fence like any other (no such lease: renewed nothing).
    const edge = await agent.heartbeat([{ run_id: run.run_id, fence: '9223372036854775807' }]);
    expect(edge.statusCode).toBe(200);
  });

  it('a heartbeat naming a run twice is a 422 (its answer names runs by id alone), and renews nothing', async () => {
    const { agent, run } = await claimOne();
    const stale = String(BigInt(run.fence) + 1000n);
    for (const twice of [
      [run, { run_id: run.run_id, fence: stale }],
      [run, { run_id: run.run_id.toUpperCase(), fence: run.fence }],
    ]) {
      const beat = await agent.heartbeat(twice);
      expect([beat.statusCode, beat.json().details]).toEqual([
        422,
        [{ field: 'runs', message: 'runs must name each run once' }],
      ]);
    }
    // Negative control: the run named once is renewed.
    const once = await agent.heartbeat([run]);
    expect(once.json().leases).toEqual({ renewed: [run.run_id], lost: [], cancel: [] });
  });

  it('a signature that is not standard base64 is refused as a signature (422), though its bytes decode', async () => {
    for (const mangle of [
      (signature: string) => `${signature.slice(0, 10)}!!@@ \n${signature.slice(10)}`,
      (signature: string) => `${signature}AAAA`,
      (signature: string) => ` ${signature} `,
      (signature: string) => Buffer.from(signature, 'base64').toString('base64url'),
    ]) {
      const { agent, run } = await claimOne();
      const body = signedResult(run, 'ok', { n: 1 }, agent.keys.privateKey);
      const res = await agent.report(run, 'ok', { n: 1 }, { signature: mangle(String(body.signature)) });
      expect([res.statusCode, res.json().reason]).toEqual([422, 'signature_invalid']);
    }
    // Negative control: the same result with its signature as signed completes.
    const { agent, run } = await claimOne();
    expect((await agent.report(run, 'ok', { n: 1 })).json()).toMatchObject({ task_status: 'completed' });
  });

  it('gas_used past 2^53 is a 422', async () => {
    const { agent, run } = await claimOne();
    const res = await agent.report(run, 'ok', 1, { gas_used: 1e20 });
    expect([res.statusCode, res.json().details]).toEqual([
      422,
      [expect.objectContaining({ field: 'gas_used' })],
    ]);
    // The refused body ended the node's lease (result_invalid): the control is a fresh one.
    const fresh = await claimOne();
    expect((await fresh.agent.report(fresh.run, 'ok', 1, { gas_used: 12 })).statusCode).toBe(200);
  });

  it('a proof or public signals in the result of a task that is not zk_proof is a 422 naming the field', async () => {
    for (const [field, extra] of [
      ['proof', { proof: { pi_a: ['1'] } }],
      ['public_signals', { public_signals: ['1'] }],
    ] as const) {
      const { agent, run } = await claimOne();
      const res = await agent.report(run, 'ok', 1, extra);
      expect([res.statusCode, res.json().details]).toEqual([422, [expect.objectContaining({ field })]]);
      // The refusal ended the node's lease (result_invalid, refused-results.spec): the control is a fresh one.
    }
    const fresh = await claimOne();
    expect((await fresh.agent.report(fresh.run, 'ok', 1)).statusCode).toBe(200);
  });

  it('a proof on a task that is not zk_proof is refused by its field even when the node signed its proof_hash', async () => {
    const { agent, run } = await claimOne();
    const extra = { proof: { pi_a: ['1'] }, public_signals: ['1'] };
    const body = signedResult(run, 'ok', 1, agent.keys.privateKey, extra);
    // Signed as README says a result carrying a proof is signed: with proof_hash.
    const receipt = { ...receiptFor(run, body), proof_hash: proofHash(extra.proof, extra.public_signals) };
    const signature = signReceipt(receipt, agent.keys.privateKey);
    const res = await agent.report(run, 'ok', 1, { ...extra, signature });
    expect([res.statusCode, res.json().reason, res.json().details]).toEqual([
      422,
      undefined,
      [{ field: 'proof', message: 'only zk_proof tasks take a proof' }],
    ]);
  });

  it('requirements as an array is a 422', async () => {
    for (const requirements of [[], [{ min_nodes: 1, max_execution_time_sec: 60 }]]) {
      const res = await postTask(ctx.app, bearer(alice.accessToken), {
        task_type: 'computation',
        inputs: { program: 'expression', expression: '1' },
        requirements,
      });
      expect([res.statusCode, res.json().error]).toEqual([422, 'validation_error']);
    }
  });

  it('a correct result whose output JSON escapes to several times BODY_LIMIT_BYTES is accepted', async () => {
    const { agent, run } = await claimOne();
    // 300 000 control characters: 1.8 MB of JSON for 300 kB of output, within WASM_MAX_OUTPUT_BYTES.
    const res = await agent.report(run, 'ok', '\u0001'.repeat(300_000));
    expect(res.statusCode).toBe(200);
  });

  it('a number past the double range in output, proof or public_signals is a 422 naming it, not a 500', async () => {
    const { agent, run } = await claimOne();
    // JSON.parse reads 1e999 as Infinity, which RFC 8785 (the request hash) cannot encode.
    const raw = (target: Pick<LeasedRun, 'run_id'>, field: string, value: string) =>
      ctx.app.inject({
        method: 'POST',
        url: `/api/v1/runs/${target.run_id}/result`,
        headers: { ...apiKeyHeader(agent.node.node_api_key), 'content-type': 'application/json' },
        payload:
          `{"fence":"${run.fence}","outcome":"ok","output_hash":"${outputHash(null)}",` +
          `"execution_time_ms":1,"signature":"AAAA","${field}":${value}}`,
      });
    const cases: [string, string, string][] = [
      ['output', '{"x":1e999}', 'output.x'],
      ['output', '[1, -1e400]', 'output[1]'],
      ['proof', '{"x":-1e400}', 'proof.x'],
      ['public_signals', '["1", 1e999]', 'public_signals[1]'],
    ];
    for (const target of [run, { run_id: randomUUID() }]) {
      for (const [field, value, path] of cases) {
        const res = await raw(target, field, value);
        expect([res.statusCode, res.json().error, res.json().details]).toEqual([
          422,
          'validation_error',
          [{ field: path, message: expect.stringMatching(/^not_json: /) }],
        ]);
      }
    }
    // The first refused body ended the node's lease (result_invalid): its honest result now comes too late.
    expect((await agent.report(run, 'ok', { x: 1 })).json()).toMatchObject({ reason: 'lease_lost' });
  });

  it('output and proof keep the deep-JSON limits of inputs', async () => {
    const { agent, run } = await claimOne();
    const deep = JSON.parse('['.repeat(17) + ']'.repeat(17)) as unknown;
    const tooDeep = await agent.report(run, 'ok', deep);
    expect([tooDeep.statusCode, tooDeep.json().details[0].message]).toEqual([
      422,
      expect.stringMatching(/^max_depth: /),
    ]);
    const wide = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, i]));
    const proof = await agent.report(run, 'ok', 1, { proof: wide });
    expect([proof.statusCode, proof.json().details[0]]).toEqual([
      422,
      { field: 'proof', message: expect.stringMatching(/^max_object_keys: /) },
    ]);
  });
});
