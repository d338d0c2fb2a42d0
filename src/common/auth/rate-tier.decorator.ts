import { SetMetadata } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import type { RateTier } from './rate-tiers';

export const RATE_TIER_KEY = 'vcp:rateTier';

/** Declares the rate-limit tier of a controller or handler. Undecorated routes are `general`. */
export const RateLimitTier = (tier: RateTier) => SetMetadata(RATE_TIER_KEY, tier);

/** Exempts a controller or handler from rate limiting (health checks, scrapers). */
export const NoRateLimit = () => SkipThrottle({ burst: true, minute: true });
