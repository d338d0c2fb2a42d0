import { RATE_TIERS, RateTier } from '../common/auth/rate-tiers';
import { defineFeatureConfig } from '../common/config/feature-config';
import { positiveIntVariable, RawEnvironment } from '../common/config/problems';
import { IntVariable } from '../common/config/variables';

/** Each rate-limit tier: a per-minute limit and a per-second burst limit (the original's defaults, and `agent`). */
export interface TierLimits {
  rpm: number;
  burst: number;
}

export const DEFAULT_TIER_LIMITS: Record<RateTier, TierLimits> = {
  auth: { rpm: 10, burst: 3 },
  node: { rpm: 20, burst: 5 },
  // The node protocol (heartbeats, claims, results; per node key and route) runs at the pace of the work: one
  // result per run, claims only for free slots or long polls. The original's `node` limits held an agent to 20
  // results a minute; these allow ~100 a second and still stop a runaway or hostile key.
  agent: { rpm: 6000, burst: 200 },
  task: { rpm: 30, burst: 10 },
  proof: { rpm: 15, burst: 3 },
  general: { rpm: 60, burst: 10 },
};

/** RATE_LIMIT_<TIER>_RPM and RATE_LIMIT_<TIER>_BURST (generated names, read from the raw environment). */
const TIER_VARIABLES = RATE_TIERS.map((tier) => {
  const prefix = `RATE_LIMIT_${tier.toUpperCase()}`;
  return { tier, rpm: `${prefix}_RPM`, burst: `${prefix}_BURST` };
});
const MAX_RPM = 1_000_000;
const MAX_BURST = 100_000;

export class RateLimitVariables {
  @IntVariable(1000, 10_000_000)
  RATE_LIMIT_MEMORY_MAX_KEYS?: number;
}

export class RateLimitConfig {
  readonly tiers!: Readonly<Record<RateTier, TierLimits>>;
  /** Most buckets the in-memory store (and the Redis fallback) keeps. */
  readonly memoryMaxKeys!: number;

  constructor(values: RateLimitConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

function tierProblems(raw: RawEnvironment): string[] {
  return TIER_VARIABLES.flatMap((names) => {
    const rpm = positiveIntVariable(raw, names.rpm, MAX_RPM);
    const burst = positiveIntVariable(raw, names.burst, MAX_BURST);
    const problems = [rpm.problem, burst.problem].filter((problem) => problem !== null);
    return problems.length > 0 ? problems : burstProblems(names, rpm.value, burst.value);
  });
}

/**
 * A tier's burst is a per-second limit: a burst the operator set above the per-minute limit could never apply,
 * so it is refused, naming the bound (the other variable, and its value only when that is the default: set
 * values are never echoed). A burst not set follows a lower per-minute limit down (tierLimits), so lowering
 * only RATE_LIMIT_<TIER>_RPM keeps starting as it did.
 */
function burstProblems(
  { tier, rpm: rpmName, burst: burstName }: (typeof TIER_VARIABLES)[number],
  rpmSet: number | undefined,
  burstSet: number | undefined,
): string[] {
  const defaults = DEFAULT_TIER_LIMITS[tier];
  if (burstSet === undefined || burstSet <= (rpmSet ?? defaults.rpm)) return [];
  const bound = rpmSet === undefined ? `${rpmName} (${defaults.rpm} by default)` : rpmName;
  return [
    `${burstName}: must be at most ${bound}: a per-second burst above the per-minute limit never applies`,
  ];
}

function tierLimits(raw: RawEnvironment): Record<RateTier, TierLimits> {
  return Object.fromEntries(
    TIER_VARIABLES.map(({ tier, rpm: rpmName, burst: burstName }) => {
      const rpm = positiveIntVariable(raw, rpmName, MAX_RPM).value ?? DEFAULT_TIER_LIMITS[tier].rpm;
      const burst =
        positiveIntVariable(raw, burstName, MAX_BURST).value ??
        Math.min(DEFAULT_TIER_LIMITS[tier].burst, rpm);
      return [tier, { rpm, burst }];
    }),
  ) as Record<RateTier, TierLimits>;
}

export const rateLimitConfig = defineFeatureConfig({
  token: RateLimitConfig,
  schema: RateLimitVariables,
  otherVariables: TIER_VARIABLES.flatMap(({ rpm, burst }) => [rpm, burst]),
  check: (_env, raw) => tierProblems(raw),
  build: (env, { raw }) =>
    new RateLimitConfig({ tiers: tierLimits(raw), memoryMaxKeys: env.RATE_LIMIT_MEMORY_MAX_KEYS ?? 50_000 }),
});
