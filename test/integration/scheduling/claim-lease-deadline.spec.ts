import { RUN_TIME_ALLOWANCE_SECS } from '../../../src/scheduling/lease-deadline';
import { ClaimFixture, claimFixture } from '../../support/claim-fixtures';

/** The fixture's tasks' max_execution_time_sec. */
const MAX_EXECUTION_SECS = 60;
const DEADLINE_SECS = MAX_EXECUTION_SECS + RUN_TIME_ALLOWANCE_SECS;
/** RUN_LEASE_SECS at its highest, past the run's deadline. */
const LONG_LEASE_SECS = 3600;

/**
 * A run never holds its lease past its deadline (max_execution_time_sec + 900 s after its claim): renewals are
 * held to it, and so is the first lease, however long RUN_LEASE_SECS is — else a node could hold a task for
 * the whole of a lease past the time its run was given, without renewing anything.
 */
describe.each(['pglite', 'postgres'] as const)('the first lease of a claim on %s', (database) => {
  let fixture: ClaimFixture;

  beforeAll(async () => {
    fixture = await claimFixture(database, { nodeId: 'claimer', history: 0, queued: 4 });
  });

  afterAll(() => fixture?.close());

  /** Each leased run's lease from its claim, in seconds (as stored), and as the claim answered it. */
  const leases = async (runs: { runId: string; leaseExpiresAt: Date }[]) => {
    const rows = await fixture.session.query<{ run_id: string; secs: number; expires: Date }>(
      `SELECT run_id, extract(epoch FROM lease_expires_at - started_at)::float8 AS secs,
              lease_expires_at AS expires
         FROM task_runs WHERE run_id = ANY($1::uuid[])`,
      [runs.map((run) => run.runId)],
    );
    for (const run of runs) {
      const row = rows.find((r) => r.run_id === run.runId)!;
      expect(new Date(run.leaseExpiresAt).getTime()).toBe(new Date(row.expires).getTime());
    }
    return rows.map((row) => row.secs);
  };

  it('ends at the run’s deadline when RUN_LEASE_SECS reaches past it', async () => {
    const runs = await fixture.claims.claim('claimer', 2, 4, LONG_LEASE_SECS, null);
    expect(runs).toHaveLength(2);
    expect(await leases(runs)).toEqual([DEADLINE_SECS, DEADLINE_SECS]);
  });

  it('lasts RUN_LEASE_SECS when that ends first, and a repeat of the claim is held to the deadline too', async () => {
    const runs = await fixture.claims.claim('claimer', 1, 4, 30, 'a-key');
    expect(await leases(runs)).toEqual([30]);
    const repeated = await fixture.claims.claim('claimer', 1, 4, LONG_LEASE_SECS, 'a-key');
    expect(repeated.map((run) => run.runId)).toEqual(runs.map((run) => run.runId));
    // Renewed from now, a moment after the claim: within a second of the deadline, never past it.
    const [secs] = await leases(repeated);
    expect(secs).toBeLessThanOrEqual(DEADLINE_SECS);
    expect(secs).toBeGreaterThan(DEADLINE_SECS - 1);
  });
});
