import type { AddressInfo } from 'node:net';
import { TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { getTask, submitTask } from '../support/tasks';

/**
 * An agent that stops or restarts during a long-poll claim closes its connection. The claim must stop with it:
 * a run leased to it afterwards would wait out its lease (30 s by default) and count as lost against the node.
 */
describe('a claim whose caller went away', () => {
  const ctx = useTestApp({ database: 'pglite' });
  let alice: Session;
  let bob: Session;
  let baseUrl: string;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
    await ctx.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(ctx.app.getHttpServer().address() as AddressInfo).port}`;
  });

  it('stops waiting and leases nothing; the next submission goes to a claim that is still there', async () => {
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    await agent.abandonClaim(baseUrl);
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const [run] = await agent.claim({ max: 1, wait_ms: 2_000 });
    expect(run?.task_id).toBe(task.task_id);
    expect((await agent.report(run, 'ok', 1)).statusCode).toBe(200);
    const done = await getTask(ctx.app, task.task_id, bearer(alice.accessToken));
    expect(done.status).toBe('completed');
    expect(done.runs).toHaveLength(1);
  });
});
