import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';

/** SQL on the clock row `c`: no replica has moved it for `creditAfterSecs` (a parameter or a literal; 0: off). */
const clockStaleSql = (creditAfterSecs: string): string =>
  `${creditAfterSecs}::float8 > 0 AND c.seen_at < now() - make_interval(secs => ${creditAfterSecs}::float8)`;

/**
 * SQL, true while an outage may be under way and not yet credited: no replica has moved the clock for
 * `creditAfterSecs` (SQL: a parameter or a literal; 0 turns this off). The sweeps judge nothing then. Their statement may have
 * been sent before the outage and waited in a frozen database: it runs at the thaw, by the database's clock,
 * perhaps before the tick that credits the gap, and would end every lease and node the outage made late.
 */
export const uncreditedOutageSql = (creditAfterSecs: string): string =>
  `EXISTS (SELECT 1 FROM control_plane_clock c WHERE ${clockStaleSql(creditAfterSecs)})`;

/**
 * SQL, true while the lease of the run row `alias` holds: before its time, or, while an outage may be under way
 * uncredited (as in uncreditedOutageSql), if it was live when the control plane was last seen. A heartbeat, result
 * or release sent before the database froze runs at the thaw, perhaps before the tick that credits the gap: the
 * outage must not lapse its lease; a lease that had lapsed before is lost as ever. `creditAfterSecs` is the
 * validated setting (an integer, 0–3600), written into the statement so that it stays one prepared statement. The
 * clock row is read only for a lease past its time (OR stops at its first true arm): a live lease costs nothing.
 */
export function leaseHoldsSql(alias: string, creditAfterSecs: number): string {
  // Never anything but a whole number in SQL text (the setting is validated as an integer).
  if (!Number.isInteger(creditAfterSecs))
    throw new Error(`not a whole number of seconds: ${creditAfterSecs}`);
  return `(${alias}.lease_expires_at > now()
           OR EXISTS (SELECT 1 FROM control_plane_clock c
                       WHERE ${clockStaleSql(String(creditAfterSecs))} AND ${alias}.lease_expires_at > c.seen_at))`;
}

/** An outage the tick found and credited. */
export interface CreditedOutage {
  /** How long no replica had moved the clock, in seconds: what every live lease was extended by. */
  awaySecs: number;
  leasesExtended: number;
}

/**
 * What the clock row records of every credit so far, whichever tick made it (the same on every replica): a credit
 * can commit with no replica hearing of it, when the tick that made it timed out on the client (a frozen database).
 */
export interface CreditsSoFar {
  outages: number;
  leasesExtended: number;
  /** How long the last credited outage lasted; null before the first. */
  lastOutageSecs: number | null;
}

/** What a tick found: the outage it credited itself (null: none), and the row's record of every credit. */
export interface ClockTick {
  credited: CreditedOutage | null;
  soFar: CreditsSoFar;
}

/** The shared clock row (see the ControlPlaneClock migration). */
@Injectable()
export class ControlPlaneClockRepository {
  constructor(private readonly db: DatabaseSession) {}

  /**
   * Moves the clock to now. If it had not moved for `creditAfterSecs` or more, the same statement extends every
   * lease that was live when the clock last moved by the whole gap, so it keeps the time it had left then, but
   * never past `leaseSecs` from now: a lease renewed at the thaw (leaseHoldsSql) is not extended twice, and a
   * gap that was no outage (the setting was 0, or ticks failed while the rest worked) gives no lease more than a
   * renewal would. It also marks now as a resumption. One statement under the row's lock: replicas
   * ticking at once are serialised, and the second re-reads the moved row, so a gap is credited once.
   */
  async tick(creditAfterSecs: number, leaseSecs: number): Promise<ClockTick> {
    const [row] = await this.db.query<{
      away_secs: number | null;
      extended: number;
      last_outage_secs: number | null;
      outages_credited: number;
      leases_credited: number;
    }>(
      `WITH previous AS (
         SELECT seen_at, extract(epoch FROM now() - seen_at)::float8 AS away_secs
           FROM control_plane_clock WHERE id = 1 FOR UPDATE),
       credit AS (SELECT seen_at, away_secs FROM previous WHERE away_secs >= $1),
       extended AS (
         UPDATE task_runs r
            SET lease_expires_at = LEAST(r.lease_expires_at + make_interval(secs => cr.away_secs),
                                         GREATEST(r.lease_expires_at, now() + make_interval(secs => $2)))
           FROM credit cr
          WHERE r.status = 'leased' AND r.lease_expires_at > cr.seen_at
         RETURNING 1),
       moved AS (
         INSERT INTO control_plane_clock AS c (id, seen_at) VALUES (1, now())
         ON CONFLICT (id) DO UPDATE
           SET seen_at = GREATEST(c.seen_at, now()),
               resumed_at = CASE WHEN EXISTS (SELECT 1 FROM credit) THEN now() ELSE c.resumed_at END,
               last_outage_secs = COALESCE((SELECT away_secs FROM credit), c.last_outage_secs),
               outages_credited = c.outages_credited + (SELECT count(*) FROM credit),
               leases_credited = c.leases_credited + (SELECT count(*) FROM extended)
         RETURNING c.last_outage_secs, c.outages_credited, c.leases_credited)
       SELECT (SELECT away_secs FROM credit) AS away_secs, (SELECT count(*) FROM extended)::int AS extended,
              m.last_outage_secs::float8, m.outages_credited::float8, m.leases_credited::float8
         FROM moved m`,
      [creditAfterSecs, leaseSecs],
    );
    const credited =
      row.away_secs === null ? null : { awaySecs: Number(row.away_secs), leasesExtended: row.extended };
    const soFar = {
      outages: Number(row.outages_credited),
      leasesExtended: Number(row.leases_credited),
      lastOutageSecs: row.last_outage_secs === null ? null : Number(row.last_outage_secs),
    };
    return { credited, soFar };
  }
}
