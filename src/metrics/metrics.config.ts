import { defineFeatureConfig } from '../common/config/feature-config';
import { cidrListProblems } from '../common/config/problems';
import { splitList } from '../common/config/values';
import { TextVariable, TokenVariable } from '../common/config/variables';

export class MetricsVariables {
  /** Bearer token Prometheus must present on `/metrics`; compared in constant time. */
  @TokenVariable()
  METRICS_TOKEN?: string;

  @TextVariable({ maxLength: 8192 })
  METRICS_ALLOWED_CIDRS?: string;
}

export class MetricsConfig {
  /** Bearer token required on `/metrics` when set. */
  readonly token!: string | null;
  /** Client IPs allowed to scrape when non-empty (IPs or CIDRs). */
  readonly allowedCidrs!: readonly string[];

  constructor(values: MetricsConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const metricsConfig = defineFeatureConfig({
  token: MetricsConfig,
  schema: MetricsVariables,
  check: (env) => cidrListProblems(splitList(env.METRICS_ALLOWED_CIDRS), 'METRICS_ALLOWED_CIDRS'),
  build: (env) =>
    new MetricsConfig({
      token: env.METRICS_TOKEN ?? null,
      allowedCidrs: splitList(env.METRICS_ALLOWED_CIDRS),
    }),
});
