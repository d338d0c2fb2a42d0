import { TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { submitTask } from '../support/tasks';
import { useTestApp } from '../support/app';
import { expect422 } from '../support/validation';

interface ResultAnswer {
  task_status: string;
  next_runs?: { run_id: string; task_id: string; fence: string; spec: { inputs: unknown } }[];
}

/**
 * A result's `Claim-Next: n` header: once the result is accepted, up to n more runs are leased to the node in
 * the same request (the agent's one round trip per run). Only an accepted result claims; the header's key is
 * the claim's Idempotency-Key, so a retried result gets the runs its lost answer leased.
 */
describeEachDatabase('a result carrying the next claim (Claim-Next), on %s', (database) => {
  const ctx = useTestApp({ database, env: { SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  beforeEach(async () => {
    await ctx.dataSource.query(
      `UPDATE tasks SET status = 'cancelled' WHERE status IN ('pending', 'running')`,
    );
  });

  const leasedTo = (nodeId: string) =>
    ctx.dataSource
      .query(`SELECT run_id FROM task_runs WHERE node_id = $1 AND status = 'leased' ORDER BY run_id`, [
        nodeId,
      ])
      .then((rows: { run_id: string }[]) => rows.map((row) => row.run_id));

  async function agentWithRun(queued: number) {
    const tasks = [];
    for (let i = 0; i <= queued; i++) {
      const inputs = { program: 'expression', expression: `${i}+1` };
      tasks.push({ ...(await submitTask(ctx.app, bearer(alice.accessToken), { inputs })), inputs });
    }
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await agent.claim();
    return { agent, run, tasks };
  }

  it('an accepted result leases up to n more runs, answered as a claim would answer them', async () => {
    const { agent, run, tasks } = await agentWithRun(3);
    const res = await agent.report(run, 'ok', { result: 14 }, {}, { 'claim-next': '2' });
    expect(res.statusCode).toBe(200);
    const answer = res.json<ResultAnswer>();
    expect(answer.task_status).toBe('completed');
    expect(answer.next_runs).toHaveLength(2);
    // The oldest queued tasks, as a claim takes them; each a live lease of this node with its spec.
    const byTask = new Map(answer.next_runs!.map((next) => [next.task_id, next]));
    expect([...byTask.keys()].sort()).toEqual([tasks[1].task_id, tasks[2].task_id].sort());
    for (const task of tasks.slice(1, 3)) {
      expect(byTask.get(task.task_id)).toMatchObject({
        fence: expect.stringMatching(/^[1-9][0-9]*$/),
        spec: { inputs: task.inputs },
      });
    }
    expect(await leasedTo(agent.nodeId)).toEqual(answer.next_runs!.map((next) => next.run_id).sort());

    // Without the header the answer is as before; with nothing left to lease, next_runs is empty.
    const plain = await agent.report(answer.next_runs![0] as never, 'ok', { result: 14 });
    expect(plain.json<ResultAnswer>()).not.toHaveProperty('next_runs');
    const fourth = await agent.claim();
    expect(fourth.map((next) => next.task_id)).toEqual([tasks[3].task_id]);
    const last = await agent.report(fourth[0], 'ok', { result: 14 }, {}, { 'claim-next': '16' });
    expect(last.json<ResultAnswer>().next_runs).toHaveLength(0);
  });

  it('a result that is refused claims nothing', async () => {
    const { agent, run } = await agentWithRun(2);
    const stale = await agent.report({ ...run, fence: '1' }, 'ok', { result: 14 }, {}, { 'claim-next': '2' });
    expect(stale.statusCode).toBe(409);
    expect(await leasedTo(agent.nodeId)).toEqual([run.run_id]);
  });

  it.each(['0', '17', '1.5', 'two', ''])(
    'Claim-Next %j is a 422 naming the header, and the result is not applied',
    async (value) => {
      const { agent, run } = await agentWithRun(1);
      const res = await agent.report(run, 'ok', { result: 14 }, {}, { 'claim-next': value });
      expect422(res, 'Claim-Next');
      expect(await leasedTo(agent.nodeId)).toEqual([run.run_id]);
    },
  );

  it('a repeat with the same Idempotency-Key gets the same runs and leases no more; without one, more', async () => {
    const { agent, run } = await agentWithRun(3);
    const headers = { 'claim-next': '1', 'idempotency-key': 'next-after-first' };
    const first = (await agent.report(run, 'ok', { result: 14 }, {}, headers)).json<ResultAnswer>();
    const again = (await agent.report(run, 'ok', { result: 14 }, {}, headers)).json<ResultAnswer>();
    const ids = (answer: ResultAnswer) => answer.next_runs!.map(({ run_id, fence }) => ({ run_id, fence }));
    expect(ids(again)).toEqual(ids(first));
    expect(await leasedTo(agent.nodeId)).toEqual([first.next_runs![0].run_id]);
    // The control: the same repeat without the key is a new claim.
    const unkeyed = await agent.report(run, 'ok', { result: 14 }, {}, { 'claim-next': '1' });
    expect(unkeyed.json<ResultAnswer>().next_runs).toHaveLength(1);
    expect(await leasedTo(agent.nodeId)).toHaveLength(2);
  });

  it('a quarantined node’s result is accepted and leases nothing', async () => {
    const { agent, run } = await agentWithRun(1);
    await ctx.dataSource.query(
      `UPDATE nodes SET quarantined_at = now(), quarantine_reason = 'test' WHERE node_id = $1`,
      [agent.nodeId],
    );
    const res = await agent.report(run, 'ok', { result: 14 }, {}, { 'claim-next': '1' });
    expect(res.statusCode).toBe(200);
    expect(res.json<ResultAnswer>().next_runs).toEqual([]);
    expect(await leasedTo(agent.nodeId)).toEqual([]);
  });
});
