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
    expect((await waiting.report(again[0], 'ok', { sum: 6 })).statusCode).toBe(200);
  });

  it('lets the only node take its own lost task again (a new run, a higher fence); the old run stays refused', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { max_attempts: 3, priority: 9 });
    const only = await TestAgent.register(ctx.app, bearer(alice.accessToken));
    const [lost] = await only.claim({ max: 1, wait_ms: 0 });
    expect(lost.task_id).toBe(task.task_id);
    // Its lease runs out (a crash, a pause) and no other node exists: one lease later it may take the task
    // again (other nodes get the first chance). Before, the task could never be leased again.
    const [again] = await only.claim({ max: 1, wait_ms: (2 * LEASE_SECS + 4) * 1000 });
    expect(again?.task_id).toBe(task.task_id);
    expect(again.run_id).not.toBe(lost.run_id);
    expect(BigInt(again.fence)).toBeGreaterThan(BigInt(lost.fence));
    expect((await only.report(lost, 'ok', { n: 1 })).statusCode).toBe(409);
    expect((await only.report(again, 'ok', { n: 1 })).statusCode).toBe(200);
  });
});
