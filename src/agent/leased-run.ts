import type { LeasedRun, RunLimits } from './transport';

/** A run the agent started and holds the lease of. */
export interface Held {
  run: LeasedRun;
  controller: AbortController;
  /** Why the run is no longer ours to report (lost, cancelled, shutdown), or null while it is. */
  dropped: string | null;
  /** Its execution ended (its result is being reported). */
  executed: boolean;
  /** When (agent's clock) a heartbeat called it lost while its result was being sent; null if none did. */
  lostAt: number | null;
}

/** The longest run a server may lease: a task's max_execution_time_sec is at most 3600. */
export const MAX_RUN_TIMEOUT_MS = 3_600_000;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Why a leased run is not started, or null: one the agent holds already (a server that leases it twice would
 * get it run and reported twice, and the slots miscounted), or one without the fields it is run and reported
 * under. The agent hands back what it can name and does not hold (handBackIgnored); the rest expire there.
 */
export function unstartable(run: unknown, held: ReadonlyMap<string, unknown>): string | null {
  const fields = isObject(run) ? run : {};
  const { run_id: runId, task_id: taskId, fence, spec } = fields;
  if (
    typeof runId !== 'string' ||
    typeof taskId !== 'string' ||
    typeof fence !== 'string' ||
    !isObject(spec)
  ) {
    return 'the server leased it without a run_id, task_id, fence or spec';
  }
  return held.has(runId) ? 'it is running here already' : null;
}

const positiveWhole = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) > 0;

/**
 * The run's limits as the engine takes them, or why there are none: each must be a positive whole number. A
 * timeout is held to an hour (past 2^31 ms a timer fires at once); memory and output are held to the engine's
 * own caps by the engine.
 */
export function checkedLimits(run: LeasedRun): RunLimits | string {
  const limits: unknown = run.spec.limits;
  if (
    isObject(limits) &&
    positiveWhole(limits.timeout_ms) &&
    positiveWhole(limits.memory_mb) &&
    positiveWhole(limits.output_bytes)
  ) {
    return {
      timeout_ms: Math.min(MAX_RUN_TIMEOUT_MS, limits.timeout_ms),
      memory_mb: limits.memory_mb,
      output_bytes: limits.output_bytes,
    };
  }
  return `the server's limits for this run are not positive whole numbers: ${JSON.stringify(limits) ?? 'none'}`;
}

/**
 * How long the run's lease lasts, within sane bounds (3 s – 5 min), or null when the server's time is not one:
 * the estimate only sets how often to beat. `serverNow` is the server's clock (this machine's may be off by
 * minutes).
 */
export function leaseLengthMs(run: LeasedRun, serverNow: number): number | null {
  const leaseMs = Date.parse(run.lease_expires_at) - serverNow;
  return Number.isFinite(leaseMs) ? Math.min(300_000, Math.max(3_000, leaseMs)) : null;
}
