import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';
import { leaseHoldsSql } from '../outages/control-plane-clock.repository';
import { OutagesConfig } from '../outages/outages.config';
import { ownerBarRun, retriableRun } from '../tasks/task-statements';
import { leaseDeadline, RUN_TIME_ALLOWANCE_SECS } from './lease-deadline';
import { MAX_NODE_CONCURRENT_RUNS } from './scheduling.config';
import { SYSTEM_ACCOUNT_PASSWORD_HASH } from '../users/users.repository';

export interface ClaimedRun {
  runId: string;
  taskId: string;
  taskType: string;
  fence: string;
  leaseExpiresAt: Date;
  inputs: unknown;
  args: string[];
  deterministic: boolean;
  moduleId: string | null;
  circuitId: string | null;
  maxExecutionTimeSec: number;
  /** What a result's receipt is rebuilt from (see LeasedRuns): the run's inputs hash and the node's key. */
  inputsHash: string;
  nodePublicKey: string | null;
  /** The run's result alone decides its task (min_nodes 1, or a run target of 1), as of the lease. */
  completesAlone: boolean;
  /** Leased by an earlier claim with the same key (a repeat), not by this one. */
  replayed: boolean;
}

/**
 * The claim: which open tasks a node may lease now, and the lease itself, in one statement (see claim()).
 * Every state change is a compare-and-set judged by the database, as in RunsRepository.
 */
@Injectable()
export class ClaimsRepository {
  constructor(
    private readonly db: DatabaseSession,
    private readonly outages: OutagesConfig,
  ) {}

  /**
   * Leases up to `max` runs to the node in one statement: eligible open tasks in priority then fair order, a
   * slot taken on each by compare-and-set on `active_runs`, a run row with a fresh fence per task. The
   * unique (task_id, node_id) index (over runs neither `expired` nor `failed`) refuses a second live run of one task on one node
   * even if the query erred, and
   * task_runs_quorum_owner_key a second live or succeeded run of one owner on a quorum task (two claims of one
   * owner's nodes racing on PostgreSQL: the loser's statement fails and the caller claims again). So one owner's
   * runs of a quorum task follow each other: each ended, committed, before the next is leased, and a claim sees
   * the last one either leased or ended, which the owner's two-faults bar below and releaseSlot rely on.
   *
   * NODE_MAX_CONCURRENT_RUNS without a lock: each new run takes one of the node's free lease slots (1..limit,
   * lowest first, in slot order), unique among the node's leased runs (task_runs_node_lease_slot_key). Two
   * concurrent claims of one node on PostgreSQL see the same free slots in their snapshots and both start with
   * the lowest one, so the later one fails with a unique violation (and claims again, then seeing the other's
   * runs): together they never exceed the limit. The statement commits on its own: no transaction needed.
   *
   * `claimKey` (the claim's Idempotency-Key, or null) is stored on the runs it leases. A repeat with the same
   * key while any of them is still leased to the node leases nothing new and returns those runs, renewed: in
   * the same statement, so two racing repeats cannot both lease (on PostgreSQL the later one collides on a
   * lease slot, runs again and finds the first one's runs).
   */
  async claim(
    nodeId: string,
    max: number,
    maxConcurrent: number,
    leaseSecs: number,
    claimKey: string | null,
  ): Promise<ClaimedRun[]> {
    const rows = await this.db.queryPrepared<{
      run_id: string;
      task_id: string;
      task_type: string;
      fence: string;
      lease_expires_at: Date;
      inputs: unknown;
      args: string[];
      deterministic: boolean;
      module_id: string | null;
      circuit_id: string | null;
      max_execution_time_sec: string;
      inputs_hash: string;
      public_key: string | null;
      completes_alone: boolean;
      replayed: boolean;
    }>(
      // Security, the owner's disabled_at: a long poll authenticated before its owner was disabled must not lease
      // work to a node whose key is now refused (the run could never be reported and would wait out its lease).
      // The embedded nodes' built-in owners are disabled from the start (nobody logs in as them): not those.
      // (SQL comments here count against pg_stat_activity's 1 KB of query text, which tests read.)
      'vcp_claim',
      `WITH node AS (
         -- FOR SHARE: a delete, reject, quarantine or offline sweep of the node in progress is waited for and
         -- these conditions re-read on the row it committed, so this claim leases nothing to a node it lost
         -- (that transaction's release of the node's leases could not see runs this claim had not committed).
         -- One taken first by this claim makes that transaction wait for it, and then release what it leased.
         SELECT node_id, owner_id, cpu_cores, memory_gb, gpu_available, valid_streak, public_key FROM nodes
          WHERE node_id = $1 AND status = 'online' AND deleted_at IS NULL AND node_type = 'compute'
            AND quarantined_at IS NULL AND public_key IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = nodes.owner_id AND u.disabled_at IS NOT NULL
                              AND u.password_hash <> '${SYSTEM_ACCOUNT_PASSWORD_HASH}')
            FOR SHARE OF nodes),
       replayed AS (
         -- A repeated claim (its answer was lost): the runs it leased, renewed as a heartbeat would renew them.
         -- Only while the node may still claim (security: a node quarantined, rejected or deleted since must
         -- not keep its leases alive by replaying; it gets what a fresh claim would, e.g. the 403).
         -- Within the run's time, as a heartbeat's renewal (leaseDeadline): repeats keep no lease alive past it.
         -- One more answer a live caller may hold: a hand-back of another (its caller left) leaves the run alone.
         UPDATE task_runs r
            SET lease_expires_at = LEAST(now() + $4::int * interval '1 second', ${leaseDeadline('r', 't')}),
                claim_holders = r.claim_holders + 1
           FROM tasks t
          WHERE $5::varchar IS NOT NULL AND EXISTS (SELECT 1 FROM node) AND r.node_id = $1 AND r.claim_key = $5
            AND r.status = 'leased' AND ${leaseHoldsSql('r', this.outages.creditAfterSecs)} AND t.task_id = r.task_id
            AND ${leaseDeadline('r', 't')} > now()
         RETURNING r.run_id, r.task_id, r.fence, r.lease_expires_at, t.task_type, t.inputs, t.args,
                   t.deterministic, t.module_id, t.circuit_id, t.max_execution_time_sec, r.inputs_hash,
                   (t.min_nodes = 1 OR t.run_target = 1) AS completes_alone),
       slots AS (
         SELECT CASE WHEN EXISTS (SELECT 1 FROM replayed) THEN 0
                ELSE GREATEST(0, LEAST($2::int, $3::int - (
                  SELECT count(*)::int FROM task_runs WHERE node_id = $1 AND status = 'leased'))) END AS n),
       free_slots AS (
         -- A constant range, filtered: generate_series(1, $3) would be estimated at 1 000 rows in the generic
         -- plan and 16 in custom ones, and that gap kept PostgreSQL planning the claim anew on every execution.
         SELECT s AS slot, row_number() OVER (ORDER BY s) AS k
           FROM generate_series(1, ${MAX_NODE_CONCURRENT_RUNS}) AS s
          WHERE s <= $3::int AND NOT EXISTS (SELECT 1 FROM task_runs r
                             WHERE r.node_id = $1 AND r.status = 'leased' AND r.lease_slot = s)),
       candidates AS (
         -- Adaptive replication: a node with a valid streak s ≥ 10 taking an untouched adaptive task runs it
         -- alone with probability 1 − 1/s (its run_target drops to 1; a failed run restores replication).
         SELECT t.task_id,
                (t.verification_mode = 'adaptive' AND t.active_runs = 0 AND t.attempts = 0
                 AND node.valid_streak >= 10 AND random() < 1 - 1.0 / node.valid_streak) AS trusted
           FROM tasks t, node
          WHERE t.status IN ('pending', 'running') AND t.active_runs < t.run_target AND t.deleted_at IS NULL
            AND t.attempts < t.max_attempts + t.run_target - 1
            AND (t.not_before IS NULL OR t.not_before <= now())
            -- Security: past its queue timeout a task is leased no more (the sweeper fails it once none is
            -- leased), else nodes taking turns at claim and release could keep it open for ever.
            AND (t.queue_expires_at IS NULL OR t.queue_expires_at > now())
            AND (NOT t.require_gpu OR node.gpu_available)
            AND (t.min_cpu_cores IS NULL OR node.cpu_cores >= t.min_cpu_cores)
            AND (t.min_memory_gb IS NULL OR node.memory_gb >= t.min_memory_gb)
            -- Distinct nodes per task; a node whose run of it failed or whose lease on it was lost may take it
            -- again one lease later, when no other node has: otherwise a task every eligible node tried once
            -- (the one node of the default setup) would wait out its queue timeout. Attempts still bound it.
            -- Written as a per-task lookup (not NOT EXISTS, which the planner may turn into an anti-join that
            -- rescans all of the node's runs for every queued task), on idx_task_runs_node_task.
            AND (SELECT 1 FROM task_runs r
                  WHERE r.node_id = $1 AND r.task_id = t.task_id
                    AND (NOT ${retriableRun('r')} OR r.completed_at > now() - $4::int * interval '1 second')
                  LIMIT 1) IS NULL
            -- A quorum needs distinct owners: an ownerless node never serves one, an owner serves one run. The
            -- runs of a quorum task are its quorum runs (min_nodes > 1 at claim): a lookup on
            -- task_runs_quorum_owner_key, where NOT EXISTS hashed every leased and succeeded run per claim.
            -- Security: an owner whose nodes ended two runs of it for their fault or by handing them back takes
            -- it no more (a lookup on idx_task_runs_quorum_owner_fault), else its nodes could take turns holding
            -- it open for ever.
            AND (t.min_nodes = 1 OR (node.owner_id IS NOT NULL AND (
                  SELECT 1 FROM task_runs r WHERE r.task_id = t.task_id AND r.node_owner_id = node.owner_id
                     AND r.quorum_run AND r.status IN ('leased', 'succeeded') LIMIT 1) IS NULL
                AND (SELECT 1 FROM task_runs r WHERE r.task_id = t.task_id AND r.node_owner_id = node.owner_id
                        AND ${ownerBarRun('r')} OFFSET 1 LIMIT 1) IS NULL))
          ORDER BY t.priority DESC, t.fair_at, t.task_id
          LIMIT (SELECT n FROM slots)
          FOR UPDATE OF t SKIP LOCKED),
       claimed AS (
         UPDATE tasks t SET active_runs = t.active_runs + 1, attempts = t.attempts + 1, status = 'running',
                status_reason = NULL, updated_at = now(),
                run_target = CASE WHEN c.trusted THEN 1 ELSE t.run_target END
           FROM candidates c
          -- By primary key alone. FOR UPDATE re-checked the candidates' conditions on the newest version of each
          -- row and holds its lock, so they still hold here; repeating them let the planner walk the whole
          -- queue through idx_tasks_claimable once per claim (its estimates on a fresh or embedded database,
          -- which never auto-analyzes, put one row there), making every claim O(queue length).
          WHERE t.task_id = c.task_id
          RETURNING t.task_id, t.task_type, t.attempts, t.inputs, t.inputs_hash, t.args, t.deterministic,
                    t.module_id, t.circuit_id, t.max_execution_time_sec, t.min_nodes, t.run_target),
       runs AS (
         INSERT INTO task_runs (task_id, node_id, node_owner_id, status, fence, lease_expires_at, attempt,
                                started_at, inputs_hash, wasm_module_hash, quorum_run, claim_key, lease_slot)
         -- The first lease too ends by the run's deadline (leaseDeadline, started_at being now()): a
         -- RUN_LEASE_SECS longer than the run's time must not hold the task past it without a renewal.
         SELECT c.task_id, node.node_id, node.owner_id, 'leased', nextval('task_run_fence_seq'),
                now() + LEAST($4::int, c.max_execution_time_sec + ${RUN_TIME_ALLOWANCE_SECS}) * interval '1 second',
                c.attempts, now(), c.inputs_hash, c.module_id,
                c.min_nodes > 1, $5::varchar, f.slot
           FROM (SELECT claimed.*, row_number() OVER (ORDER BY task_id) AS k FROM claimed) c
           JOIN free_slots f ON f.k = c.k
           CROSS JOIN node
          -- In slot order: two claims inserting common slots in opposite orders would deadlock.
          ORDER BY f.slot
         RETURNING run_id, task_id, fence, lease_expires_at)
       SELECT r.run_id, r.task_id, r.fence, r.lease_expires_at, c.task_type, c.inputs, c.args, c.deterministic,
              c.module_id, c.circuit_id, c.max_execution_time_sec, c.inputs_hash,
              (SELECT public_key FROM node) AS public_key, (c.min_nodes = 1 OR c.run_target = 1) AS completes_alone,
              false AS replayed
         FROM runs r JOIN claimed c ON c.task_id = r.task_id
       UNION ALL
       SELECT run_id, task_id, fence, lease_expires_at, task_type, inputs, args, deterministic, module_id,
              circuit_id, max_execution_time_sec, inputs_hash, (SELECT public_key FROM node), completes_alone, true
         FROM replayed
        ORDER BY fence`,
      [nodeId, max, maxConcurrent, leaseSecs, claimKey],
    );
    return rows.map<ClaimedRun>((row) => ({
      runId: row.run_id,
      taskId: row.task_id,
      taskType: row.task_type,
      fence: String(row.fence),
      leaseExpiresAt: row.lease_expires_at,
      inputs: row.inputs,
      args: row.args,
      deterministic: row.deterministic,
      moduleId: row.module_id,
      circuitId: row.circuit_id,
      maxExecutionTimeSec: Number(row.max_execution_time_sec),
      inputsHash: row.inputs_hash,
      nodePublicKey: row.public_key,
      completesAlone: row.completes_alone,
      replayed: row.replayed,
    }));
  }
}
