import { defineFeatureConfig } from '../common/config/feature-config';
import { IntVariable } from '../common/config/variables';

export class HealthVariables {
  @IntVariable(100, 60_000)
  HEALTH_CHECK_TIMEOUT_MS?: number;
}

export class HealthConfig {
  /** Longest a readiness probe waits for one dependency. */
  readonly checkTimeoutMs!: number;

  constructor(values: HealthConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const healthConfig = defineFeatureConfig({
  token: HealthConfig,
  schema: HealthVariables,
  build: (env) => new HealthConfig({ checkTimeoutMs: env.HEALTH_CHECK_TIMEOUT_MS ?? 2000 }),
});
