import { applyDecorators, SetMetadata } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { ApiExtension } from '@nestjs/swagger';
import type { RateTier } from './rate-tiers';

export const RATE_TIER_KEY = 'vcp:rateTier';
/** The tier in the OpenAPI document (operations without it are `general`; see src/openapi/document-fixes.ts). */
export const RATE_TIER_EXTENSION = 'x-rate-limit-tier';

/** Declares the rate-limit tier of a controller or handler. Undecorated routes are `general`. */
export const RateLimitTier = (tier: RateTier) =>
  applyDecorators(SetMetadata(RATE_TIER_KEY, tier), ApiExtension(RATE_TIER_EXTENSION, tier));

/** Exempts a controller or handler from rate limiting (health checks, scrapers). */
export const NoRateLimit = () =>
  applyDecorators(SkipThrottle({ burst: true, minute: true }), ApiExtension(RATE_TIER_EXTENSION, 'none'));
