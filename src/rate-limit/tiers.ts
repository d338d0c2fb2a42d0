import type { RateTier } from '../common/auth/rate-tiers';

/** Each rate-limit tier: a per-minute limit and a per-second burst limit (the original's defaults). */

export interface TierLimits {
  rpm: number;
  burst: number;
}

export const DEFAULT_TIER_LIMITS: Record<RateTier, TierLimits> = {
  auth: { rpm: 10, burst: 3 },
  node: { rpm: 20, burst: 5 },
  task: { rpm: 30, burst: 10 },
  proof: { rpm: 15, burst: 3 },
  general: { rpm: 60, burst: 10 },
};

/**
 * What `api_keys.rate_limit_tier` selects: a multiplier on every route tier's limits, or no limit at all.
 * `unlimited` is meant for trusted internal automation and can only be set by an admin override.
 */
export const KEY_TIER_MULTIPLIERS: Record<string, number | null> = {
  general: 1,
  elevated: 5,
  unlimited: null,
};
