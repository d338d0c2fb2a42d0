import { randomUUID } from 'node:crypto';
import { LeasedRun, outputHash, TestAgent } from '../support/agent';
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

  it('a heartbeat naming a run twice renews only the pair with its fence: the other is lost', async () => {
    const { agent, run } = await claimOne();
    const stale = String(BigInt(run.fence) + 1000n);
    const beat = await agent.heartbeat([run, { run_id: run.run_id, fence: stale }]);
    expect(beat.json().leases).toEqual({ renewed: [run.run_id], lost: [run.run_id], cancel: [] });
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
