import { NodesRepository } from '../../../src/nodes/nodes.repository';
import { ControlPlaneClockRepository } from '../../../src/outages/control-plane-clock.repository';
import { EndedLeasesRepository } from '../../../src/scheduling/ended-leases.repository';
import { DatabaseFixture, databaseFixture } from '../../support/database-fixture';
import { describeEachDatabase } from '../../support/databases';

const CREDIT_AFTER_SECS = 10;
const OFFLINE_AFTER_SECS = 90;
const LEASE_SECS = 60;

/**
 * The control plane's clock row: a gap in it (no replica reached the database) is credited to the live leases
 * and to node liveness once; a shorter one is not, and then leases and silent nodes end as before.
 */
describeEachDatabase('the control plane clock', (database) => {
  let fixture: DatabaseFixture;
  let clock: ControlPlaneClockRepository;
  let userId: string;
  let runId: string;

  // One database per kind for the file (each test starts from the rows below): a fresh one per test cost ~3 s.
  beforeAll(async () => {
    fixture = await databaseFixture(database, [
      ControlPlaneClockRepository,
      NodesRepository,
      EndedLeasesRepository,
    ]);
    clock = fixture.moduleRef.get(ControlPlaneClockRepository);
    [{ user_id: userId }] = await fixture.session.query<{ user_id: string }>(
      `INSERT INTO users (username, password_hash, role) VALUES ('operator', 'x', 'user') RETURNING user_id`,
    );
  });
  afterAll(() => fixture.close());

  beforeEach(async () => {
    const { session } = fixture;
    await session.query(`TRUNCATE task_runs, tasks, nodes, control_plane_clock CASCADE`);
    // A node silent for two minutes, holding a lease that ran out 5 s ago: both ended by the sweeps unless an
    // outage is credited.
    await session.query(
      `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb, status,
                          public_key, last_heartbeat)
       VALUES ('worker', $1, 'r', 'compute', 100, 4, 8, 'online', 'k', now() - interval '2 minutes')`,
      [userId],
    );
    const [{ task_id }] = await session.query<{ task_id: string }>(
      `INSERT INTO tasks (creator_id, task_type, status, max_execution_time_sec, active_runs)
       VALUES ($1, 'computation', 'running', 60, 1) RETURNING task_id`,
      [userId],
    );
    [{ run_id: runId }] = await session.query<{ run_id: string }>(
      `INSERT INTO task_runs (task_id, node_id, node_owner_id, status, lease_expires_at, started_at)
       VALUES ($1, 'worker', $2, 'leased', now() - interval '5 seconds', now() - interval '65 seconds')
       RETURNING run_id`,
      [task_id, userId],
    );
  });

  const lastMovedSecsAgo = (secs: number) =>
    fixture.session.query(
      `INSERT INTO control_plane_clock (id, seen_at) VALUES (1, now() - make_interval(secs => $1))
       ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at`,
      [secs],
    );
  const leaseLeftSecs = async () =>
    Number(
      (
        await fixture.session.query<{ left: number }>(
          `SELECT extract(epoch FROM lease_expires_at - now())::float8 AS left FROM task_runs WHERE run_id = $1`,
          [runId],
        )
      )[0].left,
    );
  const sweep = async (creditAfterSecs = CREDIT_AFTER_SECS) => ({
    expired: (await fixture.moduleRef.get(EndedLeasesRepository).expireLeases(100, creditAfterSecs)).map(
      (lease) => lease.runId,
    ),
    offline: await fixture.moduleRef
      .get(NodesRepository)
      .markSilentOffline(OFFLINE_AFTER_SECS, creditAfterSecs),
  });

  it('credits a gap as long as the setting once: the lease keeps the time it had left, the node its time to beat', async () => {
    await lastMovedSecsAgo(60);
    const { credited: outage, soFar } = await clock.tick(CREDIT_AFTER_SECS, LEASE_SECS);
    expect(outage).toEqual({ awaySecs: expect.any(Number), leasesExtended: 1 });
    expect(outage!.awaySecs).toBeGreaterThanOrEqual(60);
    expect(outage!.awaySecs).toBeLessThan(70);
    expect(soFar).toEqual({ outages: 1, leasesExtended: 1, lastOutageSecs: outage!.awaySecs });
    // It had 55 s left when the control plane went away, and has them now.
    expect(await leaseLeftSecs()).toBeGreaterThan(50);
    expect(await leaseLeftSecs()).toBeLessThanOrEqual(55.5);
    expect(await sweep()).toEqual({ expired: [], offline: [] });
    // Credited once: the next tick finds the clock moved.
    const left = await leaseLeftSecs();
    expect(await clock.tick(CREDIT_AFTER_SECS, LEASE_SECS)).toEqual({ credited: null, soFar });
    expect(await leaseLeftSecs()).toBeLessThanOrEqual(left);
  });

  it('does not credit a shorter gap: the lease expires and the silent node goes offline (negative control)', async () => {
    await lastMovedSecsAgo(CREDIT_AFTER_SECS - 2);
    expect((await clock.tick(CREDIT_AFTER_SECS, LEASE_SECS)).credited).toBeNull();
    expect(await sweep()).toEqual({ expired: [runId], offline: ['worker'] });
  });

  it('sweeps judge nothing while a gap is not yet credited (a sweep that waited in a frozen database)', async () => {
    await lastMovedSecsAgo(60);
    const leases = fixture.moduleRef.get(EndedLeasesRepository);
    expect(await sweep()).toEqual({ expired: [], offline: [] });
    // No early sweep is planned for the lease past its time meanwhile (it would be planned again at once).
    expect(await leases.msUntilFirstLeaseExpiry(CREDIT_AFTER_SECS)).toBeNull();
    expect(await leases.msUntilFirstLeaseExpiry(0)).toBeLessThan(0);
    expect((await clock.tick(CREDIT_AFTER_SECS, LEASE_SECS)).credited).toMatchObject({ leasesExtended: 1 });
    expect(await sweep()).toEqual({ expired: [], offline: [] });
  });

  it('with the setting at 0, sweeps judge by the clock alone (negative control)', async () => {
    await lastMovedSecsAgo(60);
    expect(await sweep(0)).toEqual({ expired: [runId], offline: ['worker'] });
  });

  it('credits nothing on a database no replica has ticked yet', async () => {
    expect(await clock.tick(CREDIT_AFTER_SECS, LEASE_SECS)).toEqual({
      credited: null,
      soFar: { outages: 0, leasesExtended: 0, lastOutageSecs: null },
    });
    expect(await sweep()).toEqual({ expired: [runId], offline: ['worker'] });
  });

  it('credits a gap once when replicas tick at the same moment', async () => {
    await lastMovedSecsAgo(60);
    const ticks = await Promise.all([
      clock.tick(CREDIT_AFTER_SECS, LEASE_SECS),
      clock.tick(CREDIT_AFTER_SECS, LEASE_SECS),
    ]);
    expect(ticks.filter((tick) => tick.credited !== null)).toHaveLength(1);
    // The row counts it once too: whichever tick answered second read the count the first one left.
    expect(ticks.map((tick) => tick.soFar.outages)).toEqual([1, 1]);
    expect(await leaseLeftSecs()).toBeLessThanOrEqual(55.5);
    expect(await leaseLeftSecs()).toBeGreaterThan(50);
  });

  const leaseEndsIn = (secs: number) =>
    fixture.session.query(
      `UPDATE task_runs SET lease_expires_at = now() + make_interval(secs => $2) WHERE run_id = $1`,
      [runId, secs],
    );

  it('neither credits nor holds a lease that had lapsed before the clock last moved', async () => {
    await lastMovedSecsAgo(60);
    await leaseEndsIn(-61);
    const leases = fixture.moduleRef.get(EndedLeasesRepository);
    expect(await leases.heldLive(runId, 'worker')).toBeNull();
    expect((await clock.tick(CREDIT_AFTER_SECS, LEASE_SECS)).credited).toMatchObject({ leasesExtended: 0 });
    expect((await sweep()).expired).toEqual([runId]);
  });

  it('holds a lease live when the clock last moved while the gap is not credited, and not once it is moved (negative control)', async () => {
    await lastMovedSecsAgo(60);
    const leases = fixture.moduleRef.get(EndedLeasesRepository);
    expect(await leases.heldLive(runId, 'worker')).toMatchObject({ runId });
    await lastMovedSecsAgo(0);
    expect(await leases.heldLive(runId, 'worker')).toBeNull();
  });

  it('extends no lease past a lease from now: one renewed at the thaw, or a gap that was no outage', async () => {
    // Renewed at the thaw, before the crediting tick: it has a whole lease already.
    await lastMovedSecsAgo(600);
    await leaseEndsIn(LEASE_SECS);
    expect((await clock.tick(CREDIT_AFTER_SECS, LEASE_SECS)).credited).toMatchObject({ leasesExtended: 1 });
    expect(await leaseLeftSecs()).toBeLessThanOrEqual(LEASE_SECS + 0.5);
    expect(await leaseLeftSecs()).toBeGreaterThan(LEASE_SECS - 5);
  });
});
