import { defineFeatureConfig } from '../common/config/feature-config';
import { IntVariable } from '../common/config/variables';

export class OutagesVariables {
  @IntVariable(0, 3600)
  OUTAGE_CREDIT_AFTER_SECS?: number;
}

/** When the control plane counts as having been away, so that its absence is not charged to nodes and runs. */
export class OutagesConfig {
  /**
   * A stretch at least this long in which no replica reached the database is an outage: live leases are
   * extended by it and nodes get a full NODE_OFFLINE_AFTER_SECS to heartbeat again. 0 turns this off.
   */
  readonly creditAfterMs!: number;

  /** The setting in seconds (0: off), as the statements that judge leases take it (see leaseHoldsSql). */
  get creditAfterSecs(): number {
    return this.creditAfterMs / 1000;
  }

  constructor(values: Pick<OutagesConfig, 'creditAfterMs'>) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const outagesConfig = defineFeatureConfig({
  token: OutagesConfig,
  schema: OutagesVariables,
  build: (env) => new OutagesConfig({ creditAfterMs: (env.OUTAGE_CREDIT_AFTER_SECS ?? 10) * 1000 }),
});
