import { TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { useTestApp } from '../support/app';
import { describeEachDatabase } from '../support/databases';
import { submitTask } from '../support/tasks';

const LIMIT = 3;

/**
 * NODE_MAX_CONCURRENT_RUNS holds when one node sends many claims at once: on PostgreSQL each claim counts
 * the node's leases in its own snapshot, so without serializing a node's claims two of them could both see
 * a free slot and the node would end up over its limit.
 */
describeEachDatabase('per-node run limit under concurrent claims on %s', (database) => {
  const ctx = useTestApp({
    database,
    env: { NODE_MAX_CONCURRENT_RUNS: String(LIMIT), SCHEDULER_SWEEP_INTERVAL_SECS: '3600' },
  });
  let alice: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
  });

  const leasedRuns = async (nodeId: string) =>
    (
      await ctx.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM task_runs WHERE node_id = $1 AND status = 'leased'`,
        [nodeId],
      )
    )[0].n;

  it.each([
    ['single claims', 1, 40],
    ['batched claims', 16, 12],
  ])('%s: a node never holds more than its limit', async (_name, max, claims) => {
    const h = bearer(alice.accessToken);
    for (let i = 0; i < 40; i++) await submitTask(ctx.app, h);
    const agent = await TestAgent.register(ctx.app, h);
    const results = await Promise.all(Array.from({ length: claims }, () => agent.claim({ max, wait_ms: 0 })));
    const leased = results.flat();
    expect(leased).toHaveLength(LIMIT);
    expect(await leasedRuns(agent.nodeId)).toBe(LIMIT);
    // A finished run frees its slot: exactly one more can be claimed, however many ask at once.
    expect((await agent.report(leased[0], 'ok', { sum: 6 })).statusCode).toBe(200);
    const again = await Promise.all(Array.from({ length: 8 }, () => agent.claim({ max, wait_ms: 0 })));
    expect(again.flat()).toHaveLength(1);
    expect(await leasedRuns(agent.nodeId)).toBe(LIMIT);
  });

  it('heartbeat answers say the limit, so that an agent with more slots uses only as many', async () => {
    const agent = await TestAgent.register(ctx.app, bearer(alice.accessToken));
    const answer = await agent.heartbeat([]);
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({ max_concurrent_runs: LIMIT });
  });
});
