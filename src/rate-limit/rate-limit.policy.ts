import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/auth/principal';
import { ThrottleOverridesService } from './throttle-overrides.service';
import type { RateTier } from '../common/auth/rate-tiers';
import { RateLimitConfig, TierLimits } from './rate-limit.config';
import { KEY_TIER_MULTIPLIERS } from './tiers';

export interface Limits extends TierLimits {
  /** Whom the request counts against: `api_key:<id>`, `user:<id>` or `ip:<address>`. */
  subject: string;
}

/** Decides a request's limits: the route's tier, scaled by the key's tier, replaced by an admin override. */
@Injectable()
export class RateLimitPolicy {
  constructor(
    private readonly config: RateLimitConfig,
    private readonly overrides: ThrottleOverridesService,
  ) {}

  /** null = not limited (an `unlimited` key or override). */
  async resolve(tier: RateTier, principal: Principal | undefined, ip: string): Promise<Limits | null> {
    const subject = principal?.keyId
      ? `api_key:${principal.keyId}`
      : principal
        ? `user:${principal.userId}`
        : `ip:${ip}`;
    const candidates = [
      ...(principal?.keyId ? [`api_key:${principal.keyId}`] : []),
      ...(principal ? [`user:${principal.userId}`] : []),
      `ip:${ip}`,
    ];
    const override = await this.overrides.find(candidates);
    const keyTier = override?.tier ?? principal?.rateLimitTier ?? 'general';
    // `unlimited` maps to null, so `?? 1` would turn it into ×1: only a tier missing from the table defaults to 1.
    const multiplier = Object.hasOwn(KEY_TIER_MULTIPLIERS, keyTier) ? KEY_TIER_MULTIPLIERS[keyTier] : 1;
    if (multiplier === null) return null;
    const base = this.config.tiers[tier];
    return {
      subject,
      rpm: override?.rpm ?? base.rpm * multiplier,
      burst: override?.burst ?? base.burst * multiplier,
    };
  }
}
