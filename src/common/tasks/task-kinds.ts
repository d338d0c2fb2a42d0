/** Task types and statuses: closed sets the tasks API validates and the metrics start a series for each of. */
export const TASK_TYPES = ['wasm_execution', 'computation', 'zk_proof', 'federated_learning'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

export const TASK_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
/** The statuses a task never leaves. */
export const FINAL_TASK_STATUSES = [
  'completed',
  'failed',
  'cancelled',
] as const satisfies readonly TaskStatus[];
