/** SQL fragments shared by the statements that change a task: TasksRepository and RunsRepository.finish. */

/** Task states from which a task can still change. */
export const OPEN_STATUSES = `('pending', 'running')`;

/**
 * The UPDATE that completes an open task with an accepted result (`complete`, and a run's result that completes
 * its task in the same statement: RunsRepository.finish). Arguments are the statement's parameter references
 * ('$1'); `andAlso` adds a condition.
 */
export function completeTaskStatement(
  ref: { taskId: string; result: string; canonicalRunId: string },
  andAlso = '',
): string {
  return `UPDATE tasks SET status = 'completed', result = ${ref.result}::jsonb, status_reason = NULL,
                completed_at = now(), updated_at = now(), canonical_run_id = ${ref.canonicalRunId}
          WHERE task_id = ${ref.taskId} AND status IN ${OPEN_STATUSES} ${andAlso}
          RETURNING task_id`;
}

/**
 * The runs after which their node may take the task again, one lease after they ended (`completed_at`): failed
 * runs and lost leases. Any other run of a node bars it from its task for good (distinct nodes per task). The
 * claim and a task's wait reason both read this; task_runs_task_node_key is partial on the same statuses.
 */
export const retriableRun = (r: string) => `${r}.status IN ('expired', 'failed')`;

/**
 * A run (alias `r`) of a quorum task that counts toward its owner's bar: it failed (any outcome but `ok`: the
 * node's error, or a task fault one node alone never confirms), lost its lease, had its result refused, or was
 * handed back by its node (`released`); not one that never reached it (`claim_abandoned`). Two bar the owner's
 * nodes from the task (the claim). A hand-back spends no attempt and is no fault, but counts here: else an owner's
 * nodes could take turns claiming and handing back a quorum task's run just before each lease ran out, holding it
 * open until its queue timeout. idx_task_runs_quorum_owner_fault finds them by task and owner.
 */
export const ownerBarRun = (r: string) =>
  `${r}.quorum_run AND ${r}.status IN ('failed', 'expired') AND ${r}.outcome <> 'claim_abandoned'`;

/**
 * An ownerBarRun that ended for its node's fault (not handed back). Per owner, only the first one may spend an
 * attempt (see releaseSlot).
 */
export const ownerFaultRun = (r: string) => `${ownerBarRun(r)} AND ${r}.outcome <> 'released'`;
