import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';
import { completeTaskStatement, OPEN_STATUSES } from '../tasks/task-statements';
import { leaseDeadline } from './lease-deadline';
import { leaseHoldsSql } from '../outages/control-plane-clock.repository';
import { OutagesConfig } from '../outages/outages.config';
import { finishParameters, recordRun } from './run-result-statement';

export interface ProofContext {
  nodeId: string;
  nodeOwnerId: string | null;
  leased: boolean;
  taskType: string;
  circuitId: string | null;
  inputs: unknown;
}

export type LeaseVerdict = 'renewed' | 'lost' | 'cancel';

export interface SucceededRun {
  runId: string;
  nodeId: string;
  outputHash: string;
  /** The key its signature was verified with (null only on rows from before that was stored). */
  publicKey: string | null;
}

interface SucceededRunRow {
  run_id: string;
  node_id: string;
  output_hash: string;
  node_public_key: string | null;
}

const toSucceededRun = (row: SucceededRunRow): SucceededRun => ({
  runId: row.run_id,
  nodeId: row.node_id,
  outputHash: row.output_hash,
  publicKey: row.node_public_key,
});

export interface RunForResult {
  runId: string;
  taskId: string;
  nodeId: string;
  status: string;
  fence: string;
  leaseLive: boolean;
  resultRequestHash: string | null;
  resultResponse: unknown;
  taskStatus: string;
  taskType: string;
  minNodes: number;
  quorum: number;
  runTarget: number;
  maxRuns: number;
  /** The accepted output's hash once the task completed (late results are compared with it). */
  canonicalHash: string | null;
  /**
   * A quorum task's succeeded runs, read with the run on the embedded database only (null elsewhere): there
   * transactions run one at a time, so the read is exact. Ask earlierSucceeded(), not this field.
   */
  succeededSoFar: SucceededRun[] | null;
  /** What the node's receipt binds: the run's inputs hash, module and circuit. */
  inputsHash: string;
  moduleHash: string | null;
  circuitId: string | null;
  /** The Ed25519 key the node registered (base64 of the raw 32 bytes), or null. */
  nodePublicKey: string | null;
}

export interface RunOutcome {
  status: 'succeeded' | 'failed' | 'rejected';
  outcome: string;
  output: unknown;
  outputHash: string;
  stdout: string | null;
  stderr: string | null;
  exitCode: number | null;
  executionTimeMs: number;
  gasUsed: number | null;
  requestHash: string;
  response: unknown;
  /** The receipt the node signed (as the server rebuilt it) and its signature. */
  receipt: unknown;
  signature: string;
  nodePublicKey: string;
  verdict: 'valid' | 'invalid' | null;
  /** Complete the run's task with this output in the same statement (see Verification.onOk), or null. */
  completion?: { taskId: string; output: unknown } | null;
}

/**
 * Runs and the task state they drive. Every state change is a conditional UPDATE (state, fence, lease expiry
 * judged by the database's `now()`): on the embedded database, where row locks exclude nothing, those
 * compare-and-sets are what make a claim, a renewal or a result count once; on PostgreSQL the same
 * statements hold, and SKIP LOCKED only spares claimers from queueing behind each other.
 */
@Injectable()
export class RunsRepository {
  constructor(
    private readonly db: DatabaseSession,
    private readonly outages: OutagesConfig,
  ) {}

  /** SQL: the lease of run row `alias` holds (see leaseHoldsSql: an outage not yet credited lapses none). */
  private leaseHolds(alias: string): string {
    return leaseHoldsSql(alias, this.outages.creditAfterSecs);
  }

  /**
   * Renews every lease the node names, in one statement: renewed when the run is still leased to it with
   * that fence and its lease holds (leaseHoldsSql), the node is not quarantined and the run is within its time (see
   * leaseDeadline: never past it); `cancel` when its task was cancelled; otherwise lost.
   */
  async renew(
    nodeId: string,
    leases: { runId: string; fence: string }[],
    leaseSecs: number,
  ): Promise<{ runId: string; verdict: LeaseVerdict }[]> {
    if (leases.length === 0) return [];
    const rows = await this.db.query<{ run_id: string; verdict: LeaseVerdict }>(
      `WITH given AS (
         SELECT DISTINCT * FROM unnest($2::uuid[], $3::bigint[]) AS g(run_id, fence)),
       renewed AS (
         UPDATE task_runs r
            SET lease_expires_at = LEAST(now() + $4::int * interval '1 second', ${leaseDeadline('r', 't')})
           FROM given g, tasks t
          WHERE r.run_id = g.run_id AND r.fence = g.fence AND r.node_id = $1 AND r.status = 'leased'
            AND ${this.leaseHolds('r')} AND t.task_id = r.task_id AND ${leaseDeadline('r', 't')} > now()
            -- Security: a quarantined node's leases are taken back after its quarantine commits; until then,
            -- or if that failed, its heartbeats must not keep them alive (they then expire and are requeued).
            AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node_id = $1 AND n.quarantined_at IS NOT NULL)
         RETURNING r.run_id, r.fence)
       -- By run and fence: a run named twice (one fence stale) is renewed for its own fence only.
       SELECT g.run_id,
              CASE WHEN (g.run_id, g.fence) IN (SELECT run_id, fence FROM renewed) THEN 'renewed'
                   WHEN r.status = 'cancelled' AND r.node_id = $1 AND r.fence = g.fence THEN 'cancel'
                   ELSE 'lost' END AS verdict
         FROM given g LEFT JOIN task_runs r ON r.run_id = g.run_id`,
      [nodeId, leases.map((l) => l.runId), leases.map((l) => l.fence), leaseSecs],
    );
    return rows.map((row) => ({ runId: row.run_id, verdict: row.verdict }));
  }

  /** The run and its task, locked for the result's transaction (PostgreSQL; the CAS below holds anyway). */
  async lockForResult(runId: string): Promise<RunForResult | null> {
    return this.forResult(runId, true);
  }

  /** The same read without locks: for checks that must not wait on, or hold, the run's lock. */
  async readForResult(runId: string): Promise<RunForResult | null> {
    return this.forResult(runId, false);
  }

  private async forResult(runId: string, lock: boolean): Promise<RunForResult | null> {
    const [row] = await this.db.queryPrepared<{
      run_id: string;
      task_id: string;
      node_id: string;
      status: string;
      fence: string;
      lease_live: boolean;
      result_request_hash: string | null;
      result_response: unknown;
      task_status: string;
      task_type: string;
      min_nodes: number;
      quorum: number;
      run_target: number;
      max_runs: number;
      canonical_hash: string | null;
      succeeded_so_far: SucceededRunRow[] | null;
      inputs_hash: string;
      wasm_module_hash: string | null;
      circuit_id: string | null;
      public_key: string | null;
    }>(
      lock ? 'vcp_run_for_result_locked' : 'vcp_run_for_result',
      `SELECT r.run_id, r.task_id, r.node_id, r.status, r.fence, r.result_request_hash, r.result_response,
              ${this.leaseHolds('r')} AS lease_live, t.status AS task_status, t.task_type, t.min_nodes,
              t.quorum, t.run_target, t.max_runs,
              (SELECT c.output_hash FROM task_runs c WHERE c.run_id = t.canonical_run_id) AS canonical_hash,
              -- The task's runs by task_id only, succeeded ones kept by FILTER: with the status in WHERE, a plan made
              -- before the embedded database had statistics took idx_task_runs_status and read every succeeded run
              -- of every task, per result (0.7 ms a quorum result and growing, bench/README.md).
              CASE WHEN $2::boolean AND t.min_nodes > 1 THEN (
                SELECT json_agg(json_build_object('run_id', s.run_id, 'node_id', s.node_id,
                                                  'output_hash', s.output_hash,
                                                  'node_public_key', s.node_public_key) ORDER BY s.fence)
                         FILTER (WHERE s.status = 'succeeded')
                  FROM task_runs s WHERE s.task_id = r.task_id) END AS succeeded_so_far,
              r.inputs_hash, r.wasm_module_hash, t.circuit_id,
              (SELECT n.public_key FROM nodes n WHERE n.node_id = r.node_id) AS public_key
         FROM task_runs r JOIN tasks t ON t.task_id = r.task_id
        WHERE r.run_id = $1
        ${lock ? 'FOR UPDATE OF r, t' : ''}`,
      [runId, this.db.singleSession],
    );
    if (!row) return null;
    return {
      runId: row.run_id,
      taskId: row.task_id,
      nodeId: row.node_id,
      status: row.status,
      fence: String(row.fence),
      leaseLive: row.lease_live,
      resultRequestHash: row.result_request_hash,
      resultResponse: row.result_response,
      taskStatus: row.task_status,
      taskType: row.task_type,
      minNodes: row.min_nodes,
      quorum: row.quorum,
      runTarget: row.run_target,
      maxRuns: row.max_runs,
      canonicalHash: row.canonical_hash,
      succeededSoFar: row.succeeded_so_far?.map(toSucceededRun) ?? (this.db.singleSession ? [] : null),
      inputsHash: row.inputs_hash,
      moduleHash: row.wasm_module_hash,
      circuitId: row.circuit_id,
      nodePublicKey: row.public_key,
    };
  }

  /** Records the result if the lease still holds (same fence, still leased, leaseHoldsSql). false: it did not. */
  async finish(runId: string, fence: string, result: RunOutcome): Promise<boolean> {
    const parameters = finishParameters(runId, fence, result);
    const completion = result.completion;
    if (!completion) {
      const rows = await this.db.queryPrepared<{ run_id: string }>(
        'vcp_finish_run',
        recordRun({ leaseHolds: this.leaseHolds('task_runs') }),
        parameters,
      );
      return rows.length > 0;
    }
    // The run's result and its task's completion, both or neither: the task is locked first and must still be
    // open and one this run completes alone (not zk_proof; min_nodes 1 or a run target of 1); the run is
    // recorded only under its lease and if its node's key is still the one the receipt was checked with
    // ($17); the task completes only if the run was recorded. So the statement is safe with no transaction and
    // no read before it (RunResultService.soloCompletion); a caller that holds the locks loses nothing by it.
    // The run's status event fires at the end of this statement, the task's (a deferred trigger) at commit:
    // the same order as two statements.
    const completeTask = completeTaskStatement(
      { taskId: '$18', result: '$19', canonicalRunId: '$1' },
      'AND EXISTS (SELECT 1 FROM recorded)',
    );
    const rows = await this.db.queryPrepared<{ run_id: string }>(
      'vcp_finish_run_complete_task',
      `WITH open_task AS (
              SELECT task_id FROM tasks
               WHERE task_id = $18 AND status IN ${OPEN_STATUSES} AND task_type <> 'zk_proof'
                 AND (min_nodes = 1 OR run_target = 1)
                 FOR UPDATE),
            recorded AS (${recordRun({
              leaseHolds: this.leaseHolds('task_runs'),
              andAlso: `AND EXISTS (SELECT 1 FROM open_task)
               AND (SELECT n.public_key FROM nodes n WHERE n.node_id = task_runs.node_id) = $17`,
            })}),
            completed AS (${completeTask})
       SELECT run_id FROM recorded`,
      [...parameters, completion.taskId, JSON.stringify(completion.output ?? null)],
    );
    return rows.length > 0;
  }

  /**
   * A zk_proof result arrived on this node's live lease (that fence, leased, leaseHoldsSql) within the run's
   * deadline: its lease is held at least `holdMs` from now, while the server verifies the proof (which may wait
   * for a verifier thread), so the result is judged by when it arrived, not by how long the server's own queue
   * took. Security: only before the deadline (leaseDeadline) — the hold ends at most `holdMs` after it, a node
   * cannot push it on by submitting again, and heartbeats still renew nothing past the deadline.
   */
  async holdForVerification(runId: string, nodeId: string, fence: string, holdMs: number): Promise<void> {
    await this.db.query(
      `UPDATE task_runs r
          SET lease_expires_at = GREATEST(r.lease_expires_at, now() + $4::int * interval '1 millisecond')
         FROM tasks t
        WHERE r.run_id = $1 AND r.node_id = $2 AND r.fence = $3::bigint AND r.status = 'leased'
          AND ${this.leaseHolds('r')} AND t.task_id = r.task_id AND ${leaseDeadline('r', 't')} > now()`,
      [runId, nodeId, fence, holdMs],
    );
  }

  /** What a zk_proof result is checked against: the run's lease holder and its task's circuit and statement. */
  async proofContext(runId: string): Promise<ProofContext | null> {
    const [row] = await this.db.query<{
      node_id: string;
      node_owner_id: string | null;
      status: string;
      task_type: string;
      circuit_id: string | null;
      inputs: unknown;
    }>(
      `SELECT r.node_id, r.node_owner_id, r.status, t.task_type, t.circuit_id, t.inputs
         FROM task_runs r JOIN tasks t ON t.task_id = r.task_id
        WHERE r.run_id = $1`,
      [runId],
    );
    if (!row) return null;
    return {
      nodeId: row.node_id,
      nodeOwnerId: row.node_owner_id,
      leased: row.status === 'leased',
      taskType: row.task_type,
      circuitId: row.circuit_id,
      inputs: row.inputs,
    };
  }

  /**
   * How many other nodes reported this same task-fault outcome (and output) for the task; for a quorum run,
   * how many other owners: one operator never decides a quorum task alone, its failure included (after its
   * node's failed run, another node of the same owner may take the task). The reporting node's own earlier
   * runs never count: a node may retry a task it failed (a lease later), and one node alone never fails a task
   * as unexecutable.
   */
  async sameFaultElsewhere(
    taskId: string,
    runId: string,
    outcome: string,
    outputHash: string,
  ): Promise<number> {
    const [row] = await this.db.query<{ n: number }>(
      `SELECT count(DISTINCT CASE WHEN me.quorum_run THEN r.node_owner_id::text ELSE r.node_id END)::int AS n
         FROM task_runs r JOIN task_runs me ON me.run_id = $2
        WHERE r.task_id = $1 AND r.run_id <> $2 AND r.status = 'failed' AND r.outcome = $3
          AND r.output_hash = $4 AND r.node_id <> me.node_id
          AND NOT (me.quorum_run AND r.node_owner_id IS NOT DISTINCT FROM me.node_owner_id)`,
      [taskId, runId, outcome, outputHash],
    );
    return row?.n ?? 0;
  }

  /**
   * The other succeeded runs of the result's task, in lease order (the quorum groups them). On PostgreSQL they
   * are read now, after the lock: a result committed while the locking read waited is missing from that
   * read's snapshot.
   */
  async earlierSucceeded(run: RunForResult): Promise<SucceededRun[]> {
    return run.succeededSoFar ?? this.succeededRuns(run.taskId);
  }

  private async succeededRuns(taskId: string): Promise<SucceededRun[]> {
    const rows = await this.db.query<SucceededRunRow>(
      `SELECT run_id, node_id, output_hash, node_public_key FROM task_runs
        WHERE task_id = $1 AND status = 'succeeded' ORDER BY fence`,
      [taskId],
    );
    return rows.map(toSucceededRun);
  }
}
