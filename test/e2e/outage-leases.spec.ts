import { DatabaseSession } from '../../src/database/transaction-runner';
import { LeasedRun, TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { submitTask } from '../support/tasks';

/** The longest the setting allows: this replica does not tick again during the test, so the test sets the clock. */
const CREDIT_AFTER_SECS = 3600;

/**
 * A heartbeat, result or release that waited in a frozen database runs at the thaw, perhaps before the tick that
 * credits the outage: while no replica has moved the control plane's clock for OUTAGE_CREDIT_AFTER_SECS, a lease the
 * outage made late still holds. Once the clock moves, a lease past its time is lost as before.
 */
describeEachDatabase('leases during an outage of the control plane not yet credited, on %s', (database) => {
  const ctx = useTestApp({
    database,
    env: {
      OUTAGE_CREDIT_AFTER_SECS: String(CREDIT_AFTER_SECS),
      SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
      NODE_MAX_CONCURRENT_RUNS: '4',
    },
  });
  let alice: Session;
  let agent: TestAgent;
  let runs: LeasedRun[];

  const session = () => ctx.app.get(DatabaseSession);
  const clockLastMovedSecsAgo = (secs: number) =>
    session().query(`UPDATE control_plane_clock SET seen_at = now() - make_interval(secs => $1)`, [secs]);
  const pastTheirTime = (leased: LeasedRun[]) =>
    session().query(
      `UPDATE task_runs SET lease_expires_at = now() - interval '1 second' WHERE run_id = ANY($1::uuid[])`,
      [leased.map((run) => run.run_id)],
    );
  const heartbeat = async (run: LeasedRun) => {
    const res = await agent.heartbeat([run]);
    expect(res.statusCode).toBe(200);
    return res.json<{ leases: Record<'renewed' | 'lost' | 'cancel', string[]> }>().leases;
  };

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    for (let i = 0; i < 4; i++) await submitTask(ctx.app, bearer(alice.accessToken));
    agent = await TestAgent.register(ctx.app, bearer(alice.accessToken));
    runs = await agent.claim({ max: 4, wait_ms: 0 });
    expect(runs).toHaveLength(4);
  });

  it('renews, records and releases leases the outage made late while it is not credited', async () => {
    const [renewed, reported, released] = runs;
    await pastTheirTime([renewed, reported, released]);
    await clockLastMovedSecsAgo(CREDIT_AFTER_SECS + 100);
    expect(await heartbeat(renewed)).toMatchObject({ renewed: [renewed.run_id], lost: [] });
    expect((await agent.report(reported, 'ok', { sum: 6 })).statusCode).toBe(200);
    expect((await agent.release(released)).statusCode).toBe(204);
    const [{ left }] = await session().query<{ left: number }>(
      `SELECT extract(epoch FROM lease_expires_at - now())::float8 AS left FROM task_runs WHERE run_id = $1`,
      [renewed.run_id],
    );
    expect(Number(left)).toBeGreaterThan(0);
  });

  it('loses a lease past its time once the clock has moved (negative control)', async () => {
    const late = runs[3];
    await clockLastMovedSecsAgo(0);
    await pastTheirTime([late]);
    expect(await heartbeat(late)).toMatchObject({ renewed: [], lost: [late.run_id] });
    const refused = await agent.report(late, 'ok', { sum: 6 });
    expect([refused.statusCode, refused.json().reason]).toEqual([409, 'lease_lost']);
  });
});
