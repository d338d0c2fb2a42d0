import { SetMetadata } from '@nestjs/common';
import type { RateTier } from './tiers';

export const RATE_TIER_KEY = 'vcp:rateTier';

/** Declares the rate-limit tier of a controller or handler. Undecorated routes are `general`. */
export const RateLimitTier = (tier: RateTier) => SetMetadata(RATE_TIER_KEY, tier);
