/** Rate-limit tiers a route can declare; the limits of each live in the rate-limit module. */
export const RATE_TIERS = ['auth', 'node', 'agent', 'task', 'proof', 'general'] as const;
export type RateTier = (typeof RATE_TIERS)[number];
