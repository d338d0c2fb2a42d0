import { RATE_TIERS } from '../../src/common/auth/rate-tiers';

/**
 * Rate limits lifted far above any bench's load, so nothing is refused: the limiter still runs and counts
 * every request (its cost is part of the measurement), it just never says no. The live-task limit too: its
 * check still runs, from memory while a user is under half of it, as a real user far below it is.
 */
export const LIFTED_RATE_LIMITS: Record<string, string> = {
  ...Object.fromEntries(
    RATE_TIERS.map((tier) => tier.toUpperCase()).flatMap((tier) => [
      [`RATE_LIMIT_${tier}_RPM`, '1000000'],
      [`RATE_LIMIT_${tier}_BURST`, '100000'],
    ]),
  ),
  TASK_MAX_LIVE_PER_USER: '10000000',
};
