import { TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { getTask, submitTask } from '../support/tasks';
import { useTestApp } from '../support/app';

/** A page of tasks carries each result up to 64 KiB of JSON: a page of 100 outputs of 1 MiB would be 100 MB. */
describeEachDatabase('results in task lists, on %s', (database) => {
  const ctx = useTestApp({ database, env: { SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let alice: Session;
  let agent: TestAgent;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    agent = await TestAgent.register(ctx.app, bearer((await newSession(ctx.app, 'bob')).accessToken));
  });

  async function completedWith(output: unknown): Promise<string> {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const [run] = await agent.claim();
    expect(run.task_id).toBe(task.task_id);
    expect((await agent.report(run, 'ok', output)).statusCode).toBe(200);
    return task.task_id;
  }

  it('leaves out a result over 64 KiB (result_omitted), which the task’s own view still has', async () => {
    // 65 536 bytes of JSON exactly: kept; one byte more: left out.
    const within = { text: 'x'.repeat(65_536 - '{"text": ""}'.length) };
    const over = { text: 'x'.repeat(65_537 - '{"text": ""}'.length) };
    const [withinId, overId] = [await completedWith(within), await completedWith(over)];
    const page = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/tasks?status=completed',
      headers: bearer(alice.accessToken),
    });
    const items = page.json<{ items: Record<string, unknown>[] }>().items;
    const item = (id: string) => items.find((task) => task.task_id === id)!;
    expect(item(withinId).result).toEqual(within);
    expect(item(withinId)).not.toHaveProperty('result_omitted');
    expect(item(overId)).toMatchObject({ status: 'completed', result: null, result_omitted: true });
    const own = await getTask(ctx.app, overId, bearer(alice.accessToken));
    expect(own.result).toEqual(over);
    expect(own).not.toHaveProperty('result_omitted');
  });
});
