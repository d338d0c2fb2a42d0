/**
 * What `api_keys.rate_limit_tier` selects: a multiplier on every route tier's limits, or no limit at all.
 * `unlimited` is meant for trusted internal automation and can only be set by an admin override.
 */
export const KEY_TIER_MULTIPLIERS: Record<string, number | null> = {
  general: 1,
  elevated: 5,
  unlimited: null,
};
