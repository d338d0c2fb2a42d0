import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';
import { reputationScore } from '../nodes/reputation';

export interface NodeStanding {
  /** Wilson lower bound of valid over compared runs; 0 before any (a new node earns its place). */
  score: number;
  quarantineReason: string | null;
  /** Registered without a public key: its results could never be verified. */
  keyless: boolean;
}

/** The nodes' record of runs (issue 18): verdict counts, the valid streak, lost leases, quarantine. */
@Injectable()
export class ReputationRepository {
  constructor(private readonly db: DatabaseSession) {}

  /**
   * Records verdicts on one task's runs in one statement: sets them on the runs that already finished (`runId`
   * given; the reporting run gets its verdict with its result) and counts them into their nodes' records —
   * valid extends the node's streak, invalid ends it. Neither counts for a node whose owner created the task
   * (see below).
   */
  async recordVerdicts(
    taskId: string,
    verdicts: { nodeId: string; verdict: 'valid' | 'invalid'; setOnRun: string | null }[],
  ): Promise<void> {
    if (verdicts.length === 0) return;
    const finished = verdicts.filter((v) => v.setOnRun !== null);
    await this.db.queryPrepared(
      'vcp_record_verdicts',
      `WITH runs AS (
         -- By primary key (= ANY) within the task: joined to the unnest alone, the generic plan made on the embedded
         -- database (which never gathers statistics) read every run of every task per write (bench/README.md).
         UPDATE task_runs r SET verdict = f.verdict
           FROM unnest($3::uuid[], $4::varchar[]) AS f(run_id, verdict)
          WHERE r.run_id = ANY($3::uuid[]) AND r.task_id = $5::uuid AND r.run_id = f.run_id
         RETURNING r.run_id),
       v AS (
         SELECT node_id, count(*) FILTER (WHERE verdict = 'valid')::int AS valid,
                count(*) FILTER (WHERE verdict = 'invalid')::int AS invalid
           FROM unnest($1::varchar[], $2::varchar[]) AS x(node_id, verdict) GROUP BY node_id),
       -- Security: verdicts on a task its node's own owner created do not count. The owner chose the task and
       -- may know its answer, so one operator could otherwise build a valid streak alone (say, one proof
       -- resubmitted on many zk_proof tasks of the same statement) and be trusted to run other users'
       -- adaptive tasks alone. Its lies there are left out too: they harm only their owner, and counting them
       -- alone would tip the invalid share (and quarantine) of a node that mostly serves its own owner.
       own AS (SELECT creator_id FROM tasks WHERE task_id = $5::uuid),
       earned AS (
         SELECT v.node_id, v.valid, v.invalid FROM v JOIN nodes n ON n.node_id = v.node_id
          WHERE n.owner_id IS DISTINCT FROM (SELECT creator_id FROM own))
       UPDATE nodes n SET runs_valid = n.runs_valid + e.valid, runs_invalid = n.runs_invalid + e.invalid,
              valid_streak = CASE WHEN e.invalid > 0 THEN 0 ELSE n.valid_streak + e.valid END
         FROM earned e WHERE n.node_id = e.node_id`,
      [
        verdicts.map((v) => v.nodeId),
        verdicts.map((v) => v.verdict),
        finished.map((v) => v.setOnRun),
        finished.map((v) => v.verdict),
        taskId,
      ],
    );
  }

  async countError(nodeId: string): Promise<void> {
    await this.db.execute(`UPDATE nodes SET runs_error = runs_error + 1 WHERE node_id = $1`, [nodeId]);
  }

  async countLost(nodeIds: string[]): Promise<void> {
    if (nodeIds.length === 0) return;
    await this.db.execute(
      `WITH l AS (SELECT node_id, count(*)::int AS n FROM unnest($1::varchar[]) AS x(node_id) GROUP BY node_id)
       UPDATE nodes SET runs_lost = runs_lost + l.n FROM l WHERE nodes.node_id = l.node_id`,
      [nodeIds],
    );
  }

  /**
   * Quarantines the node if, since its last reinstatement, it has at least `minInvalid` invalid runs and its
   * invalid share of compared runs is at least `ratePercent`. Returns the reason when it did (once).
   */
  async quarantineIfDue(nodeId: string, minInvalid: number, ratePercent: number): Promise<string | null> {
    const [row] = await this.db.query<{ quarantine_reason: string }>(
      `UPDATE nodes SET quarantined_at = now(), updated_at = now(),
              quarantine_reason = runs_invalid || ' of ' || (runs_valid + runs_invalid)
                || ' compared results were outvoted or disproved (threshold: ' || $2::int || ' invalid and '
                || $3::int || ' %)'
        WHERE node_id = $1 AND quarantined_at IS NULL AND runs_invalid - quarantine_lifted_invalid >= $2
          AND runs_invalid * 100 >= $3::int * (runs_valid + runs_invalid)
        RETURNING quarantine_reason`,
      [nodeId, minInvalid, ratePercent],
    );
    return row?.quarantine_reason ?? null;
  }

  async standing(nodeId: string): Promise<NodeStanding | null> {
    const [row] = await this.db.query<{
      runs_valid: number;
      runs_invalid: number;
      quarantine_reason: string | null;
      quarantined: boolean;
      keyless: boolean;
    }>(
      `SELECT runs_valid, runs_invalid, quarantine_reason, quarantined_at IS NOT NULL AS quarantined,
              public_key IS NULL AS keyless
         FROM nodes WHERE node_id = $1`,
      [nodeId],
    );
    if (!row) return null;
    return {
      score: reputationScore(row.runs_valid, row.runs_invalid) ?? 0,
      quarantineReason: row.quarantined ? (row.quarantine_reason ?? 'quarantined') : null,
      keyless: row.keyless,
    };
  }
}
