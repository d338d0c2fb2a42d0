import { defineFeatureConfig } from '../common/config/feature-config';
import { IntVariable } from '../common/config/variables';

export class RetentionVariables {
  @IntVariable(1, 86400)
  RETENTION_SWEEP_INTERVAL_SECS?: number;

  @IntVariable(0, 36500)
  AUDIT_LOG_RETENTION_DAYS?: number;
}

/** Pruning of rows nothing can use any more (see RetentionSweeper). */
export class RetentionConfig {
  /** How often each replica runs the retention sweep. */
  readonly sweepIntervalMs!: number;
  /** Audit rows older than this many days are deleted; null keeps the audit log forever (the default). */
  readonly auditLogRetentionDays!: number | null;

  constructor(values: RetentionConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const retentionConfig = defineFeatureConfig({
  token: RetentionConfig,
  schema: RetentionVariables,
  build: (env) =>
    new RetentionConfig({
      sweepIntervalMs: (env.RETENTION_SWEEP_INTERVAL_SECS ?? 600) * 1000,
      // A security trail must never vanish unless the operator asked for it: 0 (the default) keeps it all.
      auditLogRetentionDays: env.AUDIT_LOG_RETENTION_DAYS ? env.AUDIT_LOG_RETENTION_DAYS : null,
    }),
});
