import type { Execution } from './executors';
import type { Counters, Reporter } from './reporter';
import type { LeasedRun, SubmitAnswer } from './transport';

export const round2 = (ms: number) => Math.round(ms * 100) / 100;

/** A result the server accepted: counted, and said in a `submitted` line. */
export function noteSubmitted(
  counters: Counters,
  reporter: Pick<Reporter, 'emit'>,
  {
    run,
    execution,
    answer,
    overheadMs,
  }: {
    run: LeasedRun;
    execution: Execution;
    answer: Extract<SubmitAnswer, { accepted: true }>;
    overheadMs: number | undefined;
  },
): void {
  counters.submitted++;
  // A proof the server could not verify is rejected: the node's run did not succeed, whatever it thought.
  if (execution.outcome === 'ok' && answer.runStatus !== 'rejected') counters.succeeded++;
  else counters.failed++;
  reporter.emit({
    event: 'submitted',
    task_id: run.task_id,
    run_id: run.run_id,
    ...(answer.runStatus ? { run_status: answer.runStatus } : {}),
    ...(overheadMs === undefined
      ? {}
      : { overhead_ms: overheadMs, engine_ms: round2(execution.engineMs ?? 0) }),
    task_status: answer.taskStatus,
  });
}

/** The `dropped` reason of a run that is no longer the node's (the server said so, or refused its result 409). */
export const LEASE_LOST = 'lease lost';

/** A run the agent stopped or gave up (lost, cancelled, a stop): counted, and said in a `dropped` line. */
export function noteDropped(
  counters: Counters,
  reporter: Pick<Reporter, 'emit'>,
  run: LeasedRun,
  reason: string,
  extra: { result_status?: number } = {},
): void {
  if (reason === 'task cancelled') counters.cancelled++;
  else if (reason === LEASE_LOST) counters.lease_lost++;
  reporter.emit({ event: 'dropped', task_id: run.task_id, run_id: run.run_id, reason, ...extra });
}
