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
   * Records verdicts in one statement for any number: sets them on the runs that already finished (`runId`
   * given; the reporting run gets its verdict with its result) and counts them into their nodes' records —
   * valid extends the node's streak, invalid ends it.
   */
  async recordVerdicts(
    verdicts: { nodeId: string; verdict: 'valid' | 'invalid'; setOnRun: string | null }[],
  ): Promise<void> {
    if (verdicts.length === 0) return;
    const finished = verdicts.filter((v) => v.setOnRun !== null);
    await this.db.queryPrepared(
      'vcp_record_verdicts',
      `WITH runs AS (
         UPDATE task_runs r SET verdict = f.verdict
           FROM unnest($3::uuid[], $4::varchar[]) AS f(run_id, verdict) WHERE r.run_id = f.run_id
         RETURNING r.run_id),
       v AS (
         SELECT node_id, count(*) FILTER (WHERE verdict = 'valid')::int AS valid,
                count(*) FILTER (WHERE verdict = 'invalid')::int AS invalid
           FROM unnest($1::varchar[], $2::varchar[]) AS x(node_id, verdict) GROUP BY node_id)
       UPDATE nodes n SET runs_valid = n.runs_valid + v.valid, runs_invalid = n.runs_invalid + v.invalid,
              valid_streak = CASE WHEN v.invalid > 0 THEN 0 ELSE n.valid_streak + v.valid END
         FROM v WHERE n.node_id = v.node_id`,
      [
        verdicts.map((v) => v.nodeId),
        verdicts.map((v) => v.verdict),
        finished.map((v) => v.setOnRun),
        finished.map((v) => v.verdict),
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
