import { ClaimFixture, claimFixture } from '../../support/claim-fixtures';
import { eventually } from '../../support/eventually';

const LIMIT = 2;

/**
 * A node's limit holds without a lock on PostgreSQL: two claims of one node racing (the second's snapshot taken
 * while the first has leased but not committed) both count the limit's worth of free slots, and the lease slot
 * index refuses the second. On PGlite statements never overlap, so this race cannot be set up there; the e2e
 * limit test (scheduling-node-limit.spec.ts) covers both databases through the API.
 */
describe('lease slots on PostgreSQL', () => {
  let fixture: ClaimFixture;

  beforeAll(async () => {
    fixture = await claimFixture('postgres', { nodeId: 'racer', history: 0, queued: 20 });
  });

  afterAll(() => fixture?.close());

  const leased = async () =>
    (
      await fixture.session.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM task_runs WHERE node_id = 'racer' AND status = 'leased'`,
      )
    )[0].n;

  /**
   * Claim A leases inside a transaction that stays open until claim B (outside it, on another connection) has
   * started; B's outcome is returned once A has committed.
   */
  async function race(
    claimKey: string | null = null,
  ): Promise<{ a: string[]; b: PromiseSettledResult<unknown[]> }> {
    let startB!: () => void;
    // Registered here, outside A's transaction: B runs on its own connection, not in A's.
    const b = new Promise<void>((resolve) => (startB = resolve)).then(() =>
      fixture.claims.claim('racer', LIMIT, LIMIT, 30, claimKey),
    );
    const settledB = b.then(
      (value) => ({ status: 'fulfilled', value }) as const,
      (reason: unknown) => ({ status: 'rejected', reason }) as const,
    );
    const a = await fixture.tx.run(async () => {
      const runs = await fixture.claims.claim('racer', LIMIT, LIMIT, 30, claimKey);
      startB();
      // B's statement has reached the database and waits on A's uncommitted slot (or has finished).
      await eventually(async () => expect((await waitingOnA()) || (await isSettled(settledB))).toBe(true));
      return runs.map((run) => run.runId);
    });
    return { a, b: await settledB };
  }

  async function waitingOnA(): Promise<boolean> {
    // Asked inside A's transaction, which would otherwise keep seeing its first snapshot of the activity view.
    await fixture.session.query('SELECT pg_stat_clear_snapshot()');
    const rows = await fixture.session.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH node AS%'`,
    );
    return rows[0].n > 0;
  }

  it('answers a repeat that raced the first claim of its key with the first claim’s runs, once it claims again', async () => {
    const { a, b } = await race('repeat-key');
    expect(b.status).toBe('rejected');
    // What ClaimService does on that unique violation: claim again, now seeing the first one's runs.
    const again = await fixture.claims.claim('racer', LIMIT, LIMIT, 30, 'repeat-key');
    expect(again.map((run) => run.runId).sort()).toEqual([...a].sort());
    expect(await leased()).toBe(LIMIT);
    await fixture.session.query(`UPDATE task_runs SET status = 'expired' WHERE node_id = 'racer'`);
  });

  it('refuses the second of two racing claims; without the slot index both lease (negative control)', async () => {
    const first = await race();
    expect(first.a).toHaveLength(LIMIT);
    expect(first.b.status).toBe('rejected');
    const reason = (first.b as PromiseRejectedResult).reason as { driverError?: { code?: string } };
    expect(reason.driverError?.code).toBe('23505');
    expect(await leased()).toBe(LIMIT);

    // Negative control: free the node's slots, drop the index, race again: the node ends up over its limit.
    await fixture.session.query(`UPDATE task_runs SET status = 'expired' WHERE node_id = 'racer'`);
    await fixture.session.query(`DROP INDEX task_runs_node_lease_slot_key`);
    const second = await race();
    expect(second.a).toHaveLength(LIMIT);
    expect(second.b.status).toBe('fulfilled');
    expect(await leased()).toBe(2 * LIMIT);
  });
});

async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  return (await Promise.race([promise, Promise.resolve(pending)])) !== pending;
}
