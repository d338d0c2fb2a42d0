/**
 * How long past its task's `max_execution_time_sec` a run may keep its lease by renewing it: time for an honest
 * node to download what it runs (the agent gives each download up to 5 minutes: a module, or a circuit's wasm
 * and zkey) and to report.
 */
export const RUN_TIME_ALLOWANCE_SECS = 900;

/**
 * SQL for the time past which run `run` of task `task` (table aliases) is renewed no more. Security: without
 * it a node could hold a lease forever by heartbeating and never report, and its task would stay running
 * (a queue timeout ends only tasks no node holds); with it, such a lease runs out and counts as lost.
 */
export const leaseDeadline = (run: string, task: string): string =>
  `(${run}.started_at + (${task}.max_execution_time_sec + ${RUN_TIME_ALLOWANCE_SECS}) * interval '1 second')`;
