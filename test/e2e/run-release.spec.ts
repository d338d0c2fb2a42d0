import { randomUUID } from 'node:crypto';
import { LeaseSweeper } from '../../src/scheduling/lease-sweeper';
import { TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { TEST_DEFAULTS } from '../support/config';
import { scrape, valueOf } from '../support/prometheus';
import { getTask, submitTask } from '../support/tasks';

const METRICS = { authorization: 'Bearer release-metrics-token' };

/**
 * POST /runs/:run_id/release: a node that stops hands back a run it will not finish. The task is queued again at
 * once with its attempt given back, instead of waiting out the lease (RUN_LEASE_SECS, long here) and paying an
 * attempt and the node's record for it. Only the holder of the live lease can do it.
 */
describe('a node hands back a leased run', () => {
  const ctx = useTestApp({
    database: 'pglite',
    env: { ...TEST_DEFAULTS, RUN_LEASE_SECS: '120', METRICS_TOKEN: 'release-metrics-token' },
  });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  const released = async () =>
    valueOf((await scrape(ctx.app, METRICS)).samples, 'vcp_task_runs_total', { outcome: 'released' });

  it('ends its own live lease: the task is pending again at once, its attempt back, and another node takes it', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const holder = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await holder.claim();
    expect(run?.task_id).toBe(task.task_id);
    const before = await released();

    const res = await holder.release(run);
    expect({ status: res.statusCode, body: res.body }).toEqual({ status: 204, body: '' });

    const after = await getTask(ctx.app, task.task_id, bearer(alice.accessToken));
    expect({ status: after.status, attempts: after.attempts }).toEqual({ status: 'pending', attempts: 0 });
    expect(after.runs).toEqual([
      expect.objectContaining({ run_id: run.run_id, status: 'expired', outcome: 'released' }),
    ]);
    expect(await released()).toBe(before + 1);
    const events = await ctx.dataSource.query<{ data: { outcome?: string } }[]>(
      `SELECT data FROM task_events WHERE task_id = $1 AND event_type = 'run' ORDER BY event_id`,
      [task.task_id],
    );
    expect(events.at(-1)?.data.outcome).toBe('released');
    // An orderly hand-back: no lost lease nor error on the node's record.
    const [record] = await ctx.dataSource.query<{ runs_lost: number; runs_error: number }[]>(
      `SELECT runs_lost, runs_error FROM nodes WHERE node_id = $1`,
      [holder.nodeId],
    );
    expect(record).toEqual({ runs_lost: 0, runs_error: 0 });

    const other = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [again] = await other.claim();
    expect(again?.task_id).toBe(task.task_id);
    expect((await other.report(again, 'ok', 1)).statusCode).toBe(200);
    const done = await getTask(ctx.app, task.task_id, bearer(alice.accessToken));
    expect({ status: done.status, attempts: done.attempts }).toEqual({ status: 'completed', attempts: 1 });
  });

  it('the releasing node cannot take the task straight back (no cherry-picking by claim and release)', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const holder = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await holder.claim();
    expect((await holder.release(run)).statusCode).toBe(204);
    expect(await holder.claim()).toEqual([]);
    const other = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [again] = await other.claim();
    expect(again?.task_id).toBe(task.task_id);
    expect((await other.report(again, 'ok', 1)).statusCode).toBe(200);
  });

  it('past its queue timeout a handed-back task goes to no node (two nodes taking turns cannot hold it open) and fails', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const [holder, other] = [
      await TestAgent.register(ctx.app, bearer(bob.accessToken)),
      await TestAgent.register(ctx.app, bearer(bob.accessToken)),
    ];
    const [run] = await holder.claim();
    expect(run?.task_id).toBe(task.task_id);
    await ctx.dataSource.query(
      `UPDATE tasks SET queue_expires_at = now() - interval '1 second' WHERE task_id = $1`,
      [task.task_id],
    );
    // A lease held past the timeout is not cut short: the run may still finish.
    expect((await holder.heartbeat([run])).json().leases).toEqual({
      renewed: [run.run_id],
      lost: [],
      cancel: [],
    });
    expect((await holder.release(run)).statusCode).toBe(204);
    // The test above is the control: before its timeout, a handed-back task goes to the next node at once.
    expect(await other.claim()).toEqual([]);
    await ctx.app.get(LeaseSweeper).sweep();
    expect(await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).toMatchObject({
      status: 'failed',
      status_reason: 'queue_timeout',
    });
  });

  it('anything but the caller’s live lease is 409 lease_lost, as for a result; a user key is 403', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const holder = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const stranger = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await holder.claim();
    const before = await released();
    const refusal = (res: { statusCode: number; json: () => { reason?: string } }) => ({
      status: res.statusCode,
      reason: res.json().reason,
    });
    const lost = { status: 409, reason: 'lease_lost' };

    expect(refusal(await holder.release(run, String(BigInt(run.fence) + 1n)))).toEqual(lost);
    expect(refusal(await stranger.release(run))).toEqual(lost);
    expect(refusal(await holder.release({ run_id: randomUUID(), fence: run.fence }))).toEqual(lost);
    expect(refusal(await holder.release({ run_id: 'not-a-run', fence: run.fence }))).toEqual(lost);
    expect((await holder.release(run, 'x')).statusCode).toBe(422);
    expect((await holder.release(run, undefined, bearer(bob.accessToken))).statusCode).toBe(403);
    // None of them touched the lease: the holder still delivers.
    expect(await released()).toBe(before);
    expect((await holder.report(run, 'ok', 1)).statusCode).toBe(200);
    expect(refusal(await holder.release(run))).toEqual(lost);
    expect((await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).status).toBe('completed');
  });

  it('a lease past its time, or one already handed back, is 409 lease_lost', async () => {
    await submitTask(ctx.app, bearer(alice.accessToken));
    const holder = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [run] = await holder.claim();
    await ctx.dataSource.query(
      `UPDATE task_runs SET lease_expires_at = now() - interval '1 second' WHERE run_id = $1`,
      [run.run_id],
    );
    expect((await holder.release(run)).statusCode).toBe(409);

    await submitTask(ctx.app, bearer(alice.accessToken));
    const second = await TestAgent.register(ctx.app, bearer(bob.accessToken));
    const [next] = await second.claim();
    expect((await second.release(next)).statusCode).toBe(204);
    expect((await second.release(next)).json()).toMatchObject({ reason: 'lease_lost' });
  });
});
