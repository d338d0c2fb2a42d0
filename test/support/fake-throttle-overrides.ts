import type {
  ActiveOverride,
  ThrottleOverridesService,
} from '../../src/rate-limit/throttle-overrides.service';

/**
 * The one method the rate-limit policy reads from ThrottleOverridesService, with its contract: the first of
 * the given subjects that has an active override wins. It records each list of subjects it was asked about.
 */
export class FakeThrottleOverrides implements Pick<ThrottleOverridesService, 'find'> {
  readonly active = new Map<string, ActiveOverride>();
  readonly asked: string[][] = [];

  set(subject: string, override: Partial<Omit<ActiveOverride, 'expiresAt'>>): void {
    this.active.set(subject, {
      tier: override.tier ?? null,
      rpm: override.rpm ?? null,
      burst: override.burst ?? null,
      expiresAt: Number.MAX_SAFE_INTEGER,
    });
  }

  find(subjects: string[]): Promise<ActiveOverride | null> {
    this.asked.push(subjects);
    for (const subject of subjects) {
      const override = this.active.get(subject);
      if (override) return Promise.resolve(override);
    }
    return Promise.resolve(null);
  }

  asService(): ThrottleOverridesService {
    return this as unknown as ThrottleOverridesService;
  }
}
