import { defineFeatureConfig } from '../common/config/feature-config';
import { IntVariable } from '../common/config/variables';

export class TasksVariables {
  @IntVariable(100, 300_000)
  TASK_EVENTS_HEARTBEAT_MS?: number;

  @IntVariable(1, 1000)
  TASK_EVENTS_MAX_STREAMS_PER_USER?: number;

  @IntVariable(1, 100_000)
  TASK_EVENTS_MAX_STREAMS?: number;

  @IntVariable(1, 10_000_000)
  TASK_MAX_LIVE_PER_USER?: number;

  @IntVariable(0, 3_600_000)
  TASK_FAIR_SHARE_STEP_MS?: number;
}

/** The task event streams (`GET /tasks/:task_id/events`), the live-task limit and fair order of submissions. */
export class TasksConfig {
  /** A comment line this often keeps an idle stream (and the proxies on its way) open. */
  readonly eventsHeartbeatMs!: number;
  /** Open streams one user may hold on a replica; past it, 429. */
  readonly maxStreamsPerUser!: number;
  /** Open streams on a replica; past it, 503. */
  readonly maxStreams!: number;
  /** Pending and running tasks one user may have; past it, a submission is 429. */
  readonly maxLivePerUser!: number;
  /**
   * Fair order between users: a task's place in the claim order (within its priority) is one step per run it
   * needs after its creator's latest open task, and no earlier than its submission. 0: submission order.
   */
  readonly fairShareStepMs!: number;

  constructor(values: TasksConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const tasksConfig = defineFeatureConfig({
  token: TasksConfig,
  schema: TasksVariables,
  build: (env) =>
    new TasksConfig({
      eventsHeartbeatMs: env.TASK_EVENTS_HEARTBEAT_MS ?? 15_000,
      maxStreamsPerUser: env.TASK_EVENTS_MAX_STREAMS_PER_USER ?? 8,
      maxStreams: env.TASK_EVENTS_MAX_STREAMS ?? 2_000,
      maxLivePerUser: env.TASK_MAX_LIVE_PER_USER ?? 10_000,
      fairShareStepMs: env.TASK_FAIR_SHARE_STEP_MS ?? 1_000,
    }),
});
