import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';
import { leaseHoldsSql, uncreditedOutageSql } from '../outages/control-plane-clock.repository';
import { OutagesConfig } from '../outages/outages.config';

/** A lease that ended without a result, and the type of its task (for metrics). */
export interface EndedLease {
  runId: string;
  taskId: string;
  nodeId: string;
  taskType: string;
}

interface EndedLeaseRow {
  run_id: string;
  task_id: string;
  node_id: string;
  task_type: string;
}

const ENDED_LEASE_COLUMNS = `run_id, task_id, node_id,
  (SELECT t.task_type FROM tasks t WHERE t.task_id = task_runs.task_id) AS task_type`;

const toEndedLease = (row: EndedLeaseRow): EndedLease => ({
  runId: row.run_id,
  taskId: row.task_id,
  nodeId: row.node_id,
  taskType: row.task_type,
});

/**
 * Leases that end without a result: past their time (the lease sweep; each run changes once however many
 * sweepers race) or because their node is gone or quarantined. RunRelease gives their slots back.
 */
@Injectable()
export class EndedLeasesRepository {
  constructor(
    private readonly db: DatabaseSession,
    private readonly outages: OutagesConfig,
  ) {}

  /**
   * Milliseconds (by the database's clock) until the earliest held lease runs out; null when none is held, or
   * while an outage may be going on uncredited: expireLeases ends nothing then, and a sweep planned for a lease
   * already past its time would be planned again at once, in a loop, until the credit.
   */
  async msUntilFirstLeaseExpiry(outageCreditAfterSecs: number): Promise<number | null> {
    const [row] = await this.db.query<{ ms: number | null }>(
      `SELECT CASE WHEN ${uncreditedOutageSql('$1')} THEN NULL
                   ELSE (extract(epoch FROM min(lease_expires_at) - now()) * 1000)::float8 END AS ms
         FROM task_runs WHERE status = 'leased'`,
      [outageCreditAfterSecs],
    );
    return row?.ms === null || row?.ms === undefined ? null : Math.ceil(Number(row.ms)) + 10;
  }

  /**
   * Leases past their time end (a batch per call, the earliest first). Chosen once and updated by primary key
   * (see TasksRepository.lockQueuedPastTimeout for why not `IN (SELECT …)`). FOR UPDATE re-checks the locked
   * rows' conditions, all on the run row itself, on its newest version, so a heartbeat that renewed a lease first
   * keeps it. None while an outage of
   * the control plane may be going on uncredited (uncreditedOutageSql).
   */
  async expireLeases(limit: number, outageCreditAfterSecs: number): Promise<EndedLease[]> {
    const rows = await this.db.query<EndedLeaseRow>(
      `UPDATE task_runs SET status = 'expired', outcome = 'lease_expired', completed_at = now()
        WHERE run_id = ANY (ARRAY(
                SELECT run_id FROM task_runs
                 WHERE status = 'leased' AND lease_expires_at <= now() AND NOT ${uncreditedOutageSql('$2')}
                 ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED))
        RETURNING ${ENDED_LEASE_COLUMNS}`,
      [limit, outageCreditAfterSecs],
    );
    return rows.map(toEndedLease);
  }

  /**
   * Ends every lease held by these nodes now (deleted, rejected, gone offline or quarantined): their runs are `expired`
   * with outcome `node_lost`, without waiting for the lease to run out. Conditional on `leased`, so a result
   * that committed first keeps its run, and a repeat finds nothing.
   */
  async releaseForNodes(nodeIds: string[]): Promise<EndedLease[]> {
    const rows = await this.db.query<EndedLeaseRow>(
      `UPDATE task_runs SET status = 'expired', outcome = 'node_lost', completed_at = now()
        WHERE node_id = ANY($1::varchar[]) AND status = 'leased'
        RETURNING ${ENDED_LEASE_COLUMNS}`,
      [nodeIds],
    );
    return rows.map(toEndedLease);
  }

  /** The run if `nodeId` holds its lease and the lease is live (see leaseHoldsSql); else null. */
  async heldLive(
    runId: string,
    nodeId: string,
  ): Promise<{ runId: string; taskId: string; fence: string } | null> {
    const [row] = await this.db.query<{ run_id: string; task_id: string; fence: string }>(
      `SELECT run_id, task_id, fence FROM task_runs
        WHERE run_id = $1 AND node_id = $2 AND status = 'leased'
          AND ${leaseHoldsSql('task_runs', this.outages.creditAfterSecs)}`,
      [runId, nodeId],
    );
    return row ? { runId: row.run_id, taskId: row.task_id, fence: String(row.fence) } : null;
  }

  /** Ends one lease its node will not deliver (a result refused: see RunRelease); null when it no longer holds. */
  async endUndelivered(runId: string, fence: string, outcome: string): Promise<EndedLease | null> {
    const [row] = await this.db.query<EndedLeaseRow>(
      `UPDATE task_runs SET status = 'expired', outcome = $3, completed_at = now()
        WHERE run_id = $1 AND fence = $2::bigint AND status = 'leased'
        RETURNING ${ENDED_LEASE_COLUMNS}`,
      [runId, fence, outcome],
    );
    return row ? toEndedLease(row) : null;
  }

  /**
   * A claim whose caller left gives up its answer with this run (`claim_holders` one less). The lease ends
   * (`claim_abandoned`) only when no answer is left that a live caller may hold: a retry of the same claim (same
   * Idempotency-Key) may have been answered with the run, before this claim's statement or after it, and its
   * agent holds the run now. null when the lease did not end.
   */
  async abandonClaimed(runId: string, fence: string): Promise<EndedLease | null> {
    const [row] = await this.db.query<EndedLeaseRow & { status: string }>(
      `UPDATE task_runs SET claim_holders = claim_holders - 1,
              status = CASE WHEN claim_holders <= 1 THEN 'expired' ELSE status END,
              outcome = CASE WHEN claim_holders <= 1 THEN 'claim_abandoned' ELSE outcome END,
              completed_at = CASE WHEN claim_holders <= 1 THEN now() ELSE completed_at END
        WHERE run_id = $1 AND fence = $2::bigint AND status = 'leased'
        RETURNING ${ENDED_LEASE_COLUMNS}, status`,
      [runId, fence],
    );
    return row?.status === 'expired' ? toEndedLease(row) : null;
  }

  /**
   * Ends a live lease its own node hands back (outcome `released`): the fence, the node and the lease's time
   * must all still hold, as for a result. null when it does not. The run stays a run of this node on this task
   * (`expired`), so the claim's distinct-nodes rule keeps the node off the task for a lease, as after any
   * lost lease: claiming and releasing cannot pick tasks.
   */
  async endReleased(runId: string, nodeId: string, fence: string): Promise<EndedLease | null> {
    const [row] = await this.db.query<EndedLeaseRow>(
      `UPDATE task_runs SET status = 'expired', outcome = 'released', completed_at = now()
        WHERE run_id = $1 AND node_id = $2 AND fence = $3::bigint AND status = 'leased'
          AND ${leaseHoldsSql('task_runs', this.outages.creditAfterSecs)}
        RETURNING ${ENDED_LEASE_COLUMNS}`,
      [runId, nodeId, fence],
    );
    return row ? toEndedLease(row) : null;
  }

  /** Ends every lease the node still holds as handed back (outcome `released`): see RunRelease.releaseLeftBehind. */
  async endAllReleased(nodeId: string): Promise<EndedLease[]> {
    const rows = await this.db.query<EndedLeaseRow>(
      `UPDATE task_runs SET status = 'expired', outcome = 'released', completed_at = now()
        WHERE node_id = $1 AND status = 'leased'
        RETURNING ${ENDED_LEASE_COLUMNS}`,
      [nodeId],
    );
    return rows.map(toEndedLease);
  }
}
