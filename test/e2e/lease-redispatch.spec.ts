import { TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { submitTask } from '../support/tasks';

const LEASE_SECS = 2;

/**
 * Issue 19: a dead node's run is leased again when its lease runs out — not at the next periodic sweep (an
 * hour here) and without the retry backoff (a minute here): the sweeper is timed by the lease it granted.
 */
describeEachDatabase('redispatch of a dead node’s run on %s', (database) => {
  const ctx = useTestApp({
    database,
    env: {
      RUN_LEASE_SECS: String(LEASE_SECS),
      SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
      TASK_RETRY_BASE_MS: '60000',
      NODE_MAX_CONCURRENT_RUNS: '4',
    },
  });
  let alice: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
  });

  it('leases the run again to a waiting node once the silent node’s lease runs out', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { max_attempts: 3 });
    const silent = await TestAgent.register(ctx.app, bearer(alice.accessToken));
    const [first] = await silent.claim({ max: 1, wait_ms: 0 });
    expect(first.task_id).toBe(task.task_id);

    // The silent node never heartbeats. A second node's long poll gets the task back within its wait.
    const waiting = await TestAgent.register(ctx.app, bearer(alice.accessToken));
    const started = Date.now();
    const again = await waiting.claim({ max: 1, wait_ms: (LEASE_SECS + 4) * 1000 });
    expect(again.map((run) => run.task_id)).toEqual([task.task_id]);
    expect(BigInt(again[0].fence)).toBeGreaterThan(BigInt(first.fence));
    expect(Date.now() - started).toBeGreaterThanOrEqual(LEASE_SECS * 1000 - 500);
  });
});
