import { TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
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

  it('gas_used past 2^53 is a 422', async () => {
    const { agent, run } = await claimOne();
    const res = await agent.report(run, 'ok', 1, { gas_used: 1e20 });
    expect([res.statusCode, res.json().details]).toEqual([
      422,
      [expect.objectContaining({ field: 'gas_used' })],
    ]);
    expect((await agent.report(run, 'ok', 1, { gas_used: 12 })).statusCode).toBe(200);
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
});
