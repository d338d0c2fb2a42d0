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
