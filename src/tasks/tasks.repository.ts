import { Injectable } from '@nestjs/common';
import { cursorTime, KeysetCursor, pageTime } from '../common/pagination/cursor';
import { DatabaseSession } from '../database/transaction-runner';
import type { TaskStatus, TaskType } from '../common/tasks/task-kinds';
import {
  COLUMNS,
  LIST_COLUMNS,
  LIST_RESULT_MAX_BYTES,
  TaskDetail,
  TaskRecord,
  TaskRow,
  toRecord,
} from './task-rows';
import { completeTaskStatement, OPEN_STATUSES, ownerFaultRun } from './task-statements';

export type { TaskDetail, TaskRecord } from './task-rows';

/** What a submission stores: the record's settings, with what only the insert takes. */
export interface NewTask extends Pick<
  TaskRecord,
  | 'creatorId'
  | 'taskType'
  | 'minNodes'
  | 'quorum'
  | 'maxRuns'
  | 'verificationMode'
  | 'maxExecutionTimeSec'
  | 'requireGpu'
  | 'requireProof'
  | 'minCpuCores'
  | 'minMemoryGb'
  | 'moduleId'
  | 'circuitId'
  | 'priority'
  | 'maxAttempts'
> {
  inputs: unknown;
  inputsHash: string;
  args: string[];
  deterministic: boolean;
  queueTimeoutSec: number;
  /**
   * The creator's open tasks before this one, as the live-task limit counted them: the creator's place in the
   * fair order is at most that many steps ahead of now (TaskInsertsRepository).
   */
  creatorOpenTasks: number;
}

export interface TaskFilter {
  /** null: every creator's tasks (admins). */
  creatorId: string | null;
  status?: TaskStatus;
  taskType?: TaskType;
  /** Only tasks naming this circuit (well formed: the DTO checked it). */
  circuitId?: string;
}

/** Why a quorum task runs once more: its sought runs all reported and no output had a quorum. */
export const NO_QUORUM_YET = "no quorum yet: one more run on another owner's node";

/** The tasks table (and the run rows a task's owner reads). Soft-deleted tasks are invisible here. */
/**
 * What releasing a run's slot did to its task: queued again (`pending`), still `running` on its other runs with
 * the slot open to another node, `failed` (no attempts left), or `unchanged` (the task was no longer open).
 */
export type SlotRelease = 'pending' | 'running' | 'failed' | 'unchanged';

/** Whether a release left the task open for another run (a slot to fill: wake the waiting claims). */
export const requeued = (release: SlotRelease): release is 'pending' | 'running' =>
  release === 'pending' || release === 'running';

@Injectable()
export class TasksRepository {
  constructor(private readonly db: DatabaseSession) {}

  async findLive(taskId: string): Promise<TaskDetail | null> {
    const [row] = await this.db.queryPrepared<TaskRow>(
      'vcp_task_live',
      `SELECT ${COLUMNS}, t.inputs FROM tasks t WHERE t.task_id = $1 AND t.deleted_at IS NULL`,
      [taskId],
    );
    return row ? { ...toRecord(row), inputs: row.inputs } : null;
  }

  /** The creator's pending and running tasks, counted up to `atMost` (idx_tasks_creator_open). */
  async countLive(creatorId: string, atMost: number): Promise<number> {
    const [row] = await this.db.queryPrepared<{ live: number }>(
      'vcp_tasks_count_live',
      `SELECT count(*)::int AS live FROM (
         SELECT 1 FROM tasks
          WHERE creator_id = $1 AND status IN ${OPEN_STATUSES} AND deleted_at IS NULL
          LIMIT $2) counted`,
      [creatorId, atMost],
    );
    return row.live;
  }

  /**
   * Newest first, keyset-paged on (created_at, task_id). Times compare at millisecond precision, the precision a
   * cursor carries through JavaScript (at microseconds, tasks created within one millisecond were skipped).
   * A circuit's tasks are read through idx_tasks_circuit_page (the circuit, then the page order), not looked for
   * by walking every task newest first, nor read and sorted whole per page (test/integration/tasks/
   * list-by-circuit.spec.ts). Its condition is added only when asked for, as a plain equality: that index is
   * partial (circuit_id IS NOT NULL), which a `$7 IS NULL OR …` condition implies only in a plan made for the
   * values, never in a generic one.
   */
  async list(filter: TaskFilter, after: KeysetCursor | null, fetch: number): Promise<TaskRecord[]> {
    const byCircuit = filter.circuitId === undefined ? '' : 'AND t.circuit_id = $7';
    const rows = await this.db.query<TaskRow & { result_omitted: boolean }>(
      `SELECT ${LIST_COLUMNS} FROM tasks t
        CROSS JOIN LATERAL (SELECT octet_length(t.result::text) > ${LIST_RESULT_MAX_BYTES} AS result_omitted) o
        WHERE t.deleted_at IS NULL
          AND ($1::uuid IS NULL OR t.creator_id = $1::uuid)
          AND ($2::varchar IS NULL OR t.status = $2)
          AND ($3::varchar IS NULL OR t.task_type = $3)
          AND ($4::timestamptz IS NULL OR (${pageTime('t.created_at')}, t.task_id) < (${cursorTime('$4')}, $5::uuid))
          ${byCircuit}
        ORDER BY ${pageTime('t.created_at')} DESC, t.task_id DESC
        LIMIT $6`,
      [
        filter.creatorId,
        filter.status ?? null,
        filter.taskType ?? null,
        after?.t ?? null,
        after?.id ?? null,
        fetch,
        ...(filter.circuitId === undefined ? [] : [filter.circuitId]),
      ],
    );
    return rows.map((row) =>
      row.result_omitted ? { ...toRecord(row), resultOmitted: true } : toRecord(row),
    );
  }

  /**
   * Cancels an open task and withdraws its leases: the leased runs become `cancelled`, and their nodes are told
   * to stop at their next heartbeat. Inside the caller's transaction. false: the task was not open.
   */
  async cancel(taskId: string, reason: string): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE tasks SET status = 'cancelled', status_reason = $2, completed_at = now(), updated_at = now()
        WHERE task_id = $1 AND status IN ${OPEN_STATUSES} AND deleted_at IS NULL
        RETURNING task_id`,
      [taskId, reason],
    );
    if (rows.length === 0) return false;
    await this.withdrawLeases(taskId);
    return true;
  }

  /**
   * The leased runs of a task that has just been cancelled or failed become `cancelled`: their nodes are told to
   * stop at their next heartbeat instead of having the lease renewed for work nobody will use. A statement of
   * its own, after the task's: a statement sees only the runs committed when it started, and a claim that held
   * the task's row while this transaction waited for it committed its run later (it stayed leased).
   */
  async withdrawLeases(taskId: string): Promise<void> {
    await this.db.execute(
      `UPDATE task_runs SET status = 'cancelled', completed_at = now() WHERE task_id = $1 AND status = 'leased'`,
      [taskId],
    );
  }

  async softDelete(taskId: string): Promise<boolean> {
    const { affected } = await this.db.execute(
      `UPDATE tasks SET deleted_at = now(), updated_at = now() WHERE task_id = $1 AND deleted_at IS NULL`,
      [taskId],
    );
    return affected > 0;
  }

  /** The accepted result completes an open task (once: the status check is the compare-and-set). */
  async complete(taskId: string, result: unknown, canonicalRunId: string): Promise<boolean> {
    const rows = await this.db.queryPrepared(
      'vcp_complete_task',
      completeTaskStatement({ taskId: '$1', result: '$2', canonicalRunId: '$3' }),
      [taskId, JSON.stringify(result ?? null), canonicalRunId],
    );
    return rows.length > 0;
  }

  /** Quorum not reached with every sought run in: seek one more (a new slot). false: max_runs reached. */
  async seekAnotherRun(taskId: string): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE tasks SET run_target = run_target + 1, updated_at = now(),
              status_reason = $2
        WHERE task_id = $1 AND status IN ${OPEN_STATUSES} AND run_target < max_runs
        RETURNING task_id`,
      [taskId, NO_QUORUM_YET],
    );
    return rows.length > 0;
  }

  /** The accepted proof of a completed zk_proof task (the task's original `proof_id` field). */
  async setProof(taskId: string, proofId: string): Promise<void> {
    await this.db.execute(`UPDATE tasks SET proof_id = $2, updated_at = now() WHERE task_id = $1`, [
      taskId,
      proofId,
    ]);
  }

  async fail(taskId: string, reason: string): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE tasks SET status = 'failed', status_reason = $2, completed_at = now(), updated_at = now()
        WHERE task_id = $1 AND status IN ${OPEN_STATUSES}
        RETURNING task_id`,
      [taskId, reason],
    );
    return rows.length > 0;
  }

  /**
   * A run that will not deliver (node fault, lease expiry) gives its slot back. The task fails as
   * attempts_exhausted when the claims left cannot fill the slots still needed; otherwise it is queued again
   * after a jittered exponential backoff (base × 2^(attempts−1) × [0.5, 1), at most 5 minutes).
   *
   * Security: a quorum run whose owner's nodes already ended a run of the task for their fault (ownerFaultRun)
   * gives its attempt back, as returnSlot does: one operator, however many nodes it has, spends at most one of
   * a quorum task's attempts (so fails it as attempts_exhausted alone only at max_attempts 1). The claim bars
   * that owner from then on.
   * Judged here, in the statement that releases: the owner's earlier runs ended and committed before this one
   * was leased (task_runs_quorum_owner_key), so two releases of one owner never judge each other unseen.
   */
  async releaseSlot(
    run: { taskId: string; runId: string },
    retryBaseMs: number,
    exhaustedReason = 'attempts_exhausted',
    requeueReason = 'retrying after a failed run',
  ): Promise<SlotRelease> {
    // Judged in the UPDATE, on the row version it changes: a release that waited for another release of the
    // same task saw, in a read of its own, active runs that the other had given back (the task got an attempt
    // more than it had), and would not re-check that the task was still open.
    const exhausted = `(GREATEST(run_target, min_nodes) - (active_runs - 1))
                         > (max_attempts + GREATEST(run_target, min_nodes) - 1 - (attempts - x.refund))`;
    const [row] = await this.db.query<{ status: string }>(
      `UPDATE tasks SET active_runs = active_runs - 1, attempts = GREATEST(attempts - x.refund, 0), updated_at = now(),
              -- A trusted node's failed run (adaptive replication) sends the task back to full replication.
              run_target = GREATEST(run_target, min_nodes),
              status = CASE WHEN ${exhausted} THEN 'failed' WHEN active_runs = 1 THEN 'pending' ELSE status END,
              status_reason = CASE WHEN ${exhausted} THEN $3::varchar
                                   WHEN active_runs = 1 THEN $5::varchar ELSE status_reason END,
              completed_at = CASE WHEN ${exhausted} THEN now() ELSE completed_at END,
              not_before = now() + LEAST(300000, $2::int * power(2, LEAST(attempts - x.refund - 1, 20))
                                                 * (0.5 + random() / 2)) * interval '1 millisecond'
         FROM (SELECT EXISTS (
                 SELECT 1 FROM task_runs run JOIN task_runs o
                     ON o.task_id = run.task_id AND o.node_owner_id = run.node_owner_id AND o.run_id <> run.run_id
                  WHERE run.run_id = $4 AND run.quorum_run AND ${ownerFaultRun('o')})::int AS refund) x
        WHERE task_id = $1 AND status IN ${OPEN_STATUSES} AND active_runs > 0
       RETURNING status`,
      [run.taskId, retryBaseMs, exhaustedReason, run.runId, requeueReason],
    );
    return row ? (row.status as SlotRelease) : 'unchanged';
  }

  /**
   * A run refused for its node's fault alone (a result its node did not sign) gives its slot back and the
   * attempt its claim took: the task is queued again at once, as if that claim had not happened.
   */
  async returnSlot(taskId: string): Promise<SlotRelease> {
    const [row] = await this.db.query<{ status: string }>(
      `UPDATE tasks SET active_runs = active_runs - 1, attempts = GREATEST(attempts - 1, 0), updated_at = now(),
              -- As releaseSlot: a trusted node's run (adaptive replication) no longer stands for the task alone.
              run_target = GREATEST(run_target, min_nodes),
              status = CASE WHEN active_runs = 1 THEN 'pending' ELSE status END,
              status_reason = CASE WHEN active_runs = 1 THEN 'waiting for a node' ELSE status_reason END
        WHERE task_id = $1 AND status IN ${OPEN_STATUSES} AND active_runs > 0
       RETURNING status`,
      [taskId],
    );
    return row ? (row.status as SlotRelease) : 'unchanged';
  }

  /**
   * Tasks waiting for a node past their queue timeout fail: pending ones no node claimed, and quorum tasks
   * still seeking a run (a batch per call, oldest deadline first). In the caller's transaction, two statements:
   * the batch is locked first (lockQueuedPastTimeout), then failed by failLockedQueued, whose own snapshot sees
   * every claim that committed before the locks, and no claim can lease a locked task (claims skip locked rows).
   * One statement could not tell: a claim that leased a quorum task's next run and committed while the statement
   * ran had its task row re-checked under FOR UPDATE, but not the NOT EXISTS over task_runs, which reads the
   * statement's older snapshot, so the task failed with a live lease on it.
   */
  async expireQueued(limit: number): Promise<{ taskId: string; taskType: TaskType }[]> {
    // Outside a transaction the locks would end with the first statement, and the race with them.
    if (!this.db.inTransaction) throw new Error('expireQueued must run in a transaction');
    const taskIds = await this.lockQueuedPastTimeout(limit);
    return taskIds.length === 0 ? [] : this.failLockedQueued(taskIds);
  }

  /**
   * Locks up to `limit` tasks of each kind that expireQueued fails, oldest deadline first. Chosen once (ARRAY(...)
   * is an InitPlan): written as `task_id IN (SELECT …)` plus the conditions again, a database without statistics
   * (PGlite until EmbeddedVacuum's first pass) planned the subquery inside a nested loop over every pending task,
   * rescanning the queue once per queued task — 420 ms of the embedded server's only thread at 1 000 pending.
   */
  private async lockQueuedPastTimeout(limit: number): Promise<string[]> {
    // The second batch: quorum tasks between runs (running, seeking another run, none leased), which would
    // otherwise wait forever for a node of another owner that never comes. Running tasks are few (in flight),
    // found through idx_tasks_open_status.
    const [row] = await this.db.query<{ ids: string[] }>(
      `SELECT ARRAY(
                SELECT task_id FROM tasks
                 WHERE status = 'pending' AND queue_expires_at <= now() AND active_runs = 0
                 ORDER BY queue_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
              || ARRAY(
                SELECT t.task_id FROM tasks t
                 WHERE t.status = 'running' AND t.queue_expires_at <= now() AND t.active_runs < t.run_target
                   AND NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.task_id = t.task_id AND r.status = 'leased')
                 LIMIT $1 FOR UPDATE OF t SKIP LOCKED) AS ids`,
      [limit],
    );
    return row?.ids ?? [];
  }

  /**
   * Fails the locked tasks of `taskIds` that are still waiting for a node past their queue timeout (expireQueued's
   * second statement; public for its test, which hands it a batch that such a claim had raced).
   */
  async failLockedQueued(taskIds: string[]): Promise<{ taskId: string; taskType: TaskType }[]> {
    const rows = await this.db.query<{ task_id: string; task_type: TaskType }>(
      `UPDATE tasks t SET status = 'failed', status_reason = 'queue_timeout', completed_at = now(), updated_at = now()
        WHERE t.task_id = ANY ($1::uuid[]) AND t.queue_expires_at <= now()
          AND ((t.status = 'pending' AND t.active_runs = 0)
               OR (t.status = 'running' AND t.active_runs < t.run_target
                   AND NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.task_id = t.task_id AND r.status = 'leased')))
        RETURNING t.task_id, t.task_type`,
      [taskIds],
    );
    return rows.map((row) => ({ taskId: row.task_id, taskType: row.task_type }));
  }
}
