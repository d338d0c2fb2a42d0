import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';
import { ownerBarRun, retriableRun } from './task-statements';
import type { WaitFacts } from './wait-reason';

/** Reads about the queue rather than one task: why a task waits, how many wait. */
@Injectable()
export class TaskQueueRepository {
  constructor(private readonly db: DatabaseSession) {}

  /**
   * Why a pending task waits, as counts over the live online compute nodes: one statement, one pass over the
   * online nodes (never many), run only for a single-task GET. `leaseSecs`: RUN_LEASE_SECS, as the claim has it.
   */
  async waitFacts(taskId: string, leaseSecs: number): Promise<WaitFacts | null> {
    const [row] = await this.db.query<{
      require_gpu: boolean;
      backing_off: boolean;
      online: number;
      claiming: number;
      with_gpu: number;
      capable: number;
      fresh: number;
      again_later: number;
      fresh_owner: number;
      quorum: boolean;
      leased: number;
      last_failure: string | null;
    }>(
      `WITH n AS (
         SELECT n.node_id,
                -- As the claim sees it: a quarantined node, or one without a key to sign with, leases nothing.
                (n.quarantined_at IS NULL AND n.public_key IS NOT NULL) AS claims,
                (NOT t.require_gpu OR n.gpu_available) AS gpu_ok,
                (t.min_cpu_cores IS NULL OR n.cpu_cores >= t.min_cpu_cores)
                  AND (t.min_memory_gb IS NULL OR n.memory_gb >= t.min_memory_gb) AS size_ok,
                -- As the claim sees it: a run of the node bars it from the task, one that failed or lost its
                -- lease only until a lease after it ended.
                EXISTS (SELECT 1 FROM task_runs r
                        WHERE r.task_id = t.task_id AND r.node_id = n.node_id AND NOT ${retriableRun('r')}) AS ran,
                EXISTS (SELECT 1 FROM task_runs r
                        WHERE r.task_id = t.task_id AND r.node_id = n.node_id AND ${retriableRun('r')}
                          AND r.completed_at > now() - $2::int * interval '1 second') AS ran_lately,
                -- As the claim sees it: a quorum needs owners that have no live or succeeded run of it yet, nor
                -- two runs of it ended for their nodes' fault or handed back.
                (t.min_nodes = 1 OR (n.owner_id IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM task_runs r WHERE r.task_id = t.task_id AND r.node_owner_id = n.owner_id
                      AND r.quorum_run AND r.status IN ('leased', 'succeeded'))
                   AND (SELECT count(*) FROM task_runs r WHERE r.task_id = t.task_id AND r.node_owner_id = n.owner_id
                      AND ${ownerBarRun('r')}) < 2)) AS owner_ok
           FROM tasks t JOIN nodes n ON n.status = 'online' AND n.deleted_at IS NULL AND n.node_type = 'compute'
          WHERE t.task_id = $1)
       SELECT t.require_gpu, coalesce(t.not_before > now(), false) AS backing_off,
              (SELECT count(*)::int FROM n) AS online,
              (SELECT count(*)::int FROM n WHERE claims) AS claiming,
              (SELECT count(*)::int FROM n WHERE claims AND gpu_ok) AS with_gpu,
              (SELECT count(*)::int FROM n WHERE claims AND gpu_ok AND size_ok) AS capable,
              (SELECT count(*)::int FROM n WHERE claims AND gpu_ok AND size_ok AND NOT ran AND NOT ran_lately)
                AS fresh,
              (SELECT count(*)::int FROM n WHERE claims AND gpu_ok AND size_ok AND NOT ran AND ran_lately)
                AS again_later,
              (SELECT count(*)::int FROM n WHERE claims AND gpu_ok AND size_ok AND NOT ran AND NOT ran_lately
                AND owner_ok) AS fresh_owner,
              t.min_nodes > 1 AS quorum,
              (SELECT count(*)::int FROM task_runs r WHERE r.task_id = t.task_id AND r.status = 'leased') AS leased,
              (SELECT r.outcome FROM task_runs r WHERE r.task_id = t.task_id AND r.status = 'failed'
                ORDER BY r.completed_at DESC NULLS LAST LIMIT 1) AS last_failure
         FROM tasks t WHERE t.task_id = $1`,
      [taskId, leaseSecs],
    );
    if (!row) return null;
    return {
      requireGpu: row.require_gpu,
      backingOff: row.backing_off,
      online: row.online,
      claiming: row.claiming,
      withGpu: row.with_gpu,
      capable: row.capable,
      fresh: row.fresh,
      againLater: row.again_later,
      freshOwner: row.fresh_owner,
      quorum: row.quorum,
      leased: row.leased,
      lastFailure: row.last_failure,
    };
  }

  /**
   * Tasks waiting for a node and how long the oldest has waited since it was submitted (the queue gauges), by the
   * database's clock; idx_tasks_open_status (status, created_at) answers both.
   */
  async pendingStats(): Promise<{ count: number; oldestAgeSecs: number }> {
    const [row] = await this.db.query<{ n: number; oldest: number | null }>(
      `SELECT count(*)::int AS n, extract(epoch FROM now() - min(created_at))::float8 AS oldest
         FROM tasks WHERE status = 'pending'`,
    );
    return { count: row.n, oldestAgeSecs: Math.max(0, row.oldest ?? 0) };
  }
}
