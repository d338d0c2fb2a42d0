import { defineFeatureConfig } from '../common/config/feature-config';
import { IntVariable } from '../common/config/variables';

/** The highest NODE_MAX_CONCURRENT_RUNS: also the claim's fixed range of lease slot numbers. */
export const MAX_NODE_CONCURRENT_RUNS = 1024;

export class SchedulingVariables {
  @IntVariable(1, 3600)
  RUN_LEASE_SECS?: number;

  @IntVariable(1, MAX_NODE_CONCURRENT_RUNS)
  NODE_MAX_CONCURRENT_RUNS?: number;

  @IntVariable(0, 3_600_000)
  TASK_RETRY_BASE_MS?: number;

  @IntVariable(1, 3600)
  SCHEDULER_SWEEP_INTERVAL_SECS?: number;

  @IntVariable(10, 60_000)
  SCHEDULER_FALLBACK_POLL_MS?: number;

  @IntVariable(1, 10_000)
  NODE_QUARANTINE_MIN_INVALID?: number;

  @IntVariable(1, 100)
  NODE_QUARANTINE_INVALID_PERCENT?: number;
}

/** Leases, retries and the scheduler's sweep. */
export class SchedulingConfig {
  /** A lease lasts this long unless the node's heartbeat renews it. */
  readonly leaseSecs!: number;
  /** Most runs one node holds at once. */
  readonly maxConcurrentRuns!: number;
  /** First retry delay after a node fault; doubled per attempt, jittered, capped at 5 minutes. */
  readonly retryBaseMs!: number;
  /** How often each replica expires leases and enforces queue timeouts. */
  readonly sweepIntervalMs!: number;
  /**
   * Waiting claims look again at least this often even without a wake-up (wake-ups are hints; this poll is
   * the guarantee). Default 1 s; tests raise it to prove that wake-ups alone deliver.
   */
  readonly fallbackPollMs!: number;
  /**
   * A node is quarantined (claims refused until an admin reinstates it) once it has this many invalid runs
   * since its last reinstatement and they are at least this percentage of its compared runs.
   */
  readonly quarantineMinInvalid!: number;
  readonly quarantineInvalidPercent!: number;

  constructor(values: SchedulingConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const schedulingConfig = defineFeatureConfig({
  token: SchedulingConfig,
  schema: SchedulingVariables,
  build: (env) =>
    new SchedulingConfig({
      leaseSecs: env.RUN_LEASE_SECS ?? 30,
      maxConcurrentRuns: env.NODE_MAX_CONCURRENT_RUNS ?? 4,
      retryBaseMs: env.TASK_RETRY_BASE_MS ?? 1000,
      sweepIntervalMs: (env.SCHEDULER_SWEEP_INTERVAL_SECS ?? 5) * 1000,
      fallbackPollMs: env.SCHEDULER_FALLBACK_POLL_MS ?? 1000,
      quarantineMinInvalid: env.NODE_QUARANTINE_MIN_INVALID ?? 3,
      quarantineInvalidPercent: env.NODE_QUARANTINE_INVALID_PERCENT ?? 20,
    }),
});
