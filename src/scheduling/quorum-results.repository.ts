import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';
import { completeTaskStatement, OPEN_STATUSES } from '../tasks/task-statements';
import { leaseHoldsSql } from '../outages/control-plane-clock.repository';
import { OutagesConfig } from '../outages/outages.config';
import { finishParameters, recordRun } from './run-result-statement';
import type { RunOutcome } from './runs.repository';

/** What a quorum run's result did in one statement. */
export interface QuorumStatementResult {
  /** `undecided`: recorded, the task waits for more; `decides`: recorded, the task completed with this output. */
  decision: 'undecided' | 'decides';
  taskStatus: string;
  /** With `decides`: the task's earlier runs, all of them now `valid` (the reporting run is valid too). */
  earlier: { runId: string; nodeId: string }[];
}

/**
 * A quorum run's `ok` result in one statement with no transaction, on the embedded database only. The statement
 * counts the task's succeeded runs as Verification.onOk does with the task locked: the keys that vouch for this
 * output (this run's, and every other key, or keyless run, that reported it) and the runs reported. With fewer
 * keys than the quorum and fewer runs than the task seeks, it records the run (`undecided`). With the quorum
 * reached and no report disagreeing, it decides as the locked path would: the run recorded `valid`, the task
 * completed with its output, the earlier runs marked `valid` and counted into their nodes' records (not for
 * nodes of the task's creator; see ReputationRepository.recordVerdicts). Anything else — a mismatch, a liar to
 * judge (audit rows, quarantine), a closed task, a lost lease, a changed node key — writes nothing, and the
 * locked path decides.
 *
 * Why the embedded database only: it is one session, so a statement runs alone from start to end and nothing
 * reports between the count and the writes. On PostgreSQL a statement reads one snapshot, which can miss a
 * result committing meanwhile; two such results could both record themselves as undecided, and the task would
 * wait for runs it no longer seeks. There every quorum result takes the locked path (the lock, then a fresh read).
 */
@Injectable()
export class QuorumResultsRepository {
  constructor(
    private readonly db: DatabaseSession,
    private readonly outages: OutagesConfig,
  ) {}

  /** Whether this database takes quorum results in one statement (the embedded one); see above. */
  get applies(): boolean {
    return this.db.singleSession;
  }

  async finish(
    runId: string,
    fence: string,
    taskId: string,
    result: RunOutcome,
  ): Promise<QuorumStatementResult | null> {
    if (!this.applies) return null;
    const decides = `(SELECT decision FROM decision) = 'decides'`;
    const completeTask = completeTaskStatement(
      { taskId: '$18', result: '$5', canonicalRunId: '$1' },
      `AND ${decides} AND EXISTS (SELECT 1 FROM recorded)`,
    );
    const [row] = await this.db.queryPrepared<{
      decision: 'undecided' | 'decides';
      task_status: string;
      earlier: { run_id: string; node_id: string }[];
    }>(
      'vcp_finish_quorum_run',
      `WITH task AS (
              SELECT task_id, status, creator_id, quorum, run_target FROM tasks
               WHERE task_id = $18 AND status IN ${OPEN_STATUSES} AND task_type <> 'zk_proof'
                 AND min_nodes > 1 AND run_target > 1),
            reports AS (
              -- The task's runs by task_id, filtered after: see RunsRepository.forResult on plans made without
              -- statistics.
              SELECT count(*) FILTER (WHERE s.status = 'succeeded') AS reported,
                     count(*) FILTER (WHERE s.status = 'succeeded' AND s.output_hash IS DISTINCT FROM $6)
                       AS disagreeing,
                     count(DISTINCT coalesce(s.node_public_key, 'run:' || s.run_id::text))
                       FILTER (WHERE s.status = 'succeeded' AND s.output_hash = $6
                                 AND s.node_public_key IS DISTINCT FROM $17) AS vouching,
                     array_agg(s.run_id) FILTER (WHERE s.status = 'succeeded') AS succeeded
                FROM task_runs s WHERE s.task_id = $18),
            decision AS (
              SELECT CASE WHEN r.vouching + 1 >= t.quorum THEN CASE WHEN r.disagreeing = 0 THEN 'decides' END
                          WHEN r.reported + 1 < t.run_target THEN 'undecided' END AS decision,
                     t.status, t.creator_id
                FROM task t CROSS JOIN reports r),
            recorded AS (${recordRun({
              leaseHolds: leaseHoldsSql('task_runs', this.outages.creditAfterSecs),
              andAlso: `AND task_id = $18 AND (SELECT decision FROM decision) IS NOT NULL
               AND (SELECT n.public_key FROM nodes n WHERE n.node_id = task_runs.node_id) = $17`,
              // The answer a repeat gets names the task's status as this statement left it.
              response: `jsonb_set($13::jsonb, '{task_status}',
                                   to_jsonb(CASE WHEN ${decides} THEN 'completed'
                                                 ELSE (SELECT status FROM decision) END))`,
              verdict: `CASE WHEN ${decides} THEN 'valid' ELSE $16::varchar END`,
            })}),
            completed AS (${completeTask}),
            earlier AS (
              -- By primary key: with the status in WHERE, a plan made without statistics read every succeeded run.
              UPDATE task_runs s SET verdict = 'valid'
               WHERE s.run_id = ANY((SELECT succeeded FROM reports)::uuid[]) AND s.task_id = $18 AND ${decides}
                 AND EXISTS (SELECT 1 FROM recorded)
              RETURNING s.run_id, s.node_id),
            earned AS (
              SELECT node_id, count(*)::int AS valid
                FROM (SELECT node_id FROM earlier
                      UNION ALL SELECT node_id FROM recorded WHERE ${decides}) AS judged
               GROUP BY node_id),
            counted AS (
              UPDATE nodes n SET runs_valid = n.runs_valid + e.valid, valid_streak = n.valid_streak + e.valid
                FROM earned e
               WHERE n.node_id = e.node_id AND n.owner_id IS DISTINCT FROM (SELECT creator_id FROM decision))
       SELECT d.decision, CASE WHEN d.decision = 'decides' THEN 'completed' ELSE d.status END AS task_status,
              (SELECT coalesce(json_agg(json_build_object('run_id', run_id, 'node_id', node_id)), '[]'::json)
                 FROM earlier) AS earlier
         FROM decision d, recorded`,
      [...finishParameters(runId, fence, result), taskId],
    );
    if (!row) return null;
    return {
      decision: row.decision,
      taskStatus: row.task_status,
      earlier: row.earlier.map((run) => ({ runId: run.run_id, nodeId: run.node_id })),
    };
  }
}
