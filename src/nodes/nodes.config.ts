import { defineFeatureConfig } from '../common/config/feature-config';
import { IntVariable } from '../common/config/variables';

export class NodesVariables {
  @IntVariable(1, 3600)
  NODE_HEARTBEAT_INTERVAL_SECS?: number;

  // From 2: it must exceed the heartbeat interval, which is at least 1.
  @IntVariable(2, 86400)
  NODE_OFFLINE_AFTER_SECS?: number;

  @IntVariable(1, 3600)
  NODE_SWEEP_INTERVAL_SECS?: number;

  @IntVariable(1, 86400)
  NODE_HISTORY_INTERVAL_SECS?: number;

  @IntVariable(1, 3650)
  NODE_HISTORY_RETENTION_DAYS?: number;

  @IntVariable(1, 3650)
  NODE_PURGE_AFTER_DAYS?: number;

  @IntVariable(1, 1_000_000)
  NODE_MAX_PER_USER?: number;
}

/** Node liveness, heartbeat history and how many nodes one user may register. */
export class NodesConfig {
  /** How often agents should heartbeat (returned in every heartbeat response, so agents follow the server). */
  readonly heartbeatIntervalSecs!: number;
  /** Silence after which the sweep marks a node offline. */
  readonly offlineAfterSecs!: number;
  /** How often each replica runs the sweep (offline marking, purge, history pruning). */
  readonly sweepIntervalMs!: number;
  /** At most one history row per node per this many seconds. */
  readonly historyIntervalSecs!: number;
  readonly historyRetentionDays!: number;
  /** Offline for this long: soft-deleted by the sweep (and audited). */
  readonly purgeAfterDays!: number;
  /** Nodes (not deleted) one user may own; past it, a registration is 409. */
  readonly maxPerUser!: number;

  constructor(values: NodesConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const nodesConfig = defineFeatureConfig({
  token: NodesConfig,
  schema: NodesVariables,
  check: (env) => {
    const interval = env.NODE_HEARTBEAT_INTERVAL_SECS ?? 15;
    const offline = env.NODE_OFFLINE_AFTER_SECS ?? 90;
    // A node that heartbeats on time must never look silent.
    return offline > interval
      ? []
      : ['NODE_OFFLINE_AFTER_SECS: must be longer than NODE_HEARTBEAT_INTERVAL_SECS'];
  },
  build: (env) =>
    new NodesConfig({
      heartbeatIntervalSecs: env.NODE_HEARTBEAT_INTERVAL_SECS ?? 15,
      offlineAfterSecs: env.NODE_OFFLINE_AFTER_SECS ?? 90,
      sweepIntervalMs: (env.NODE_SWEEP_INTERVAL_SECS ?? 15) * 1000,
      historyIntervalSecs: env.NODE_HISTORY_INTERVAL_SECS ?? 60,
      historyRetentionDays: env.NODE_HISTORY_RETENTION_DAYS ?? 7,
      purgeAfterDays: env.NODE_PURGE_AFTER_DAYS ?? 30,
      maxPerUser: env.NODE_MAX_PER_USER ?? 1_000,
    }),
});
