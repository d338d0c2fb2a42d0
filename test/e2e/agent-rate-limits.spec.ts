import { DEFAULT_TIER_LIMITS } from '../../src/rate-limit/rate-limit.config';
import { LeasedRun, TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { useTestApp } from '../support/app';
import { submitTask } from '../support/tasks';

const RUNS = 30;
const defaults = (tier: 'node' | 'agent') => ({
  [`RATE_LIMIT_${tier.toUpperCase()}_RPM`]: String(DEFAULT_TIER_LIMITS[tier].rpm),
  [`RATE_LIMIT_${tier.toUpperCase()}_BURST`]: String(DEFAULT_TIER_LIMITS[tier].burst),
});

/**
 * The node protocol under the default limits (the other tests lift them all). Heartbeats, claims and results
 * are paced by the work itself; in the original's `node` tier (20 a minute, 5 a second) an agent got 429s
 * after five quick runs and could report 20 results a minute.
 */
describe('the node protocol under the default rate limits', () => {
  const ctx = useTestApp({ database: 'pglite', env: { ...defaults('node'), ...defaults('agent') } });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  it(`lets a node claim, report and heartbeat ${RUNS} short runs in a burst`, async () => {
    const agent = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const statuses: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await submitTask(ctx.app, bearer(alice.accessToken));
      const claim = await agent.claimRaw();
      statuses.push(claim.statusCode);
      const [run] = claim.json<{ runs: LeasedRun[] }>().runs;
      statuses.push((await agent.heartbeat([run])).statusCode);
      statuses.push((await agent.report(run, 'ok', { result: 6 })).statusCode);
    }
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });

  it('still holds node registration to the node tier (a person registering machines, not a protocol)', async () => {
    const statuses: number[] = [];
    // Twice the node tier's burst: under the agent tier's (200) none would be refused.
    for (let i = 0; i < 2 * DEFAULT_TIER_LIMITS.node.burst; i++) {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/nodes',
        headers: bearer(bob.accessToken),
        payload: {
          node_id: `burst-${i}`,
          region: 'eu-west',
          node_type: 'compute',
          capabilities: { bandwidth_mbps: 100, cpu_cores: 2, memory_gb: 4, gpu_available: false },
        },
      });
      statuses.push(res.statusCode);
    }
    expect(statuses[0]).toBe(201);
    expect(statuses).toContain(429);
    expect(statuses.every((status) => status === 201 || status === 429)).toBe(true);
  });
});
