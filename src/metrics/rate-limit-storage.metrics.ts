import { Counter, Gauge, Registry } from 'prom-client';

/** What the rate limiter's storage tells about its Redis (see VcpMetrics.trackRateLimitStorage). */
export interface RateLimitStorageState {
  readonly mode: string;
  readonly fallbacks: number;
  refresh?(): Promise<void>;
}

/** The rate limiter's Redis outage fallback, read from the storage when Prometheus scrapes. */
export function registerRateLimitStorageMetrics(registry: Registry, storage: RateLimitStorageState): void {
  let counted = 0;
  new Counter({
    name: 'rate_limit_storage_fallbacks_total',
    help: 'Times this replica lost Redis and fell back to in-memory rate limits',
    registers: [registry],
    async collect() {
      await storage.refresh?.();
      if (storage.fallbacks > counted) this.inc(storage.fallbacks - counted);
      counted = storage.fallbacks;
    },
  });
  new Gauge({
    name: 'rate_limit_storage_degraded',
    help: '1 while Redis is configured but unreachable, so rate limits hold per replica only',
    registers: [registry],
    async collect() {
      await storage.refresh?.(); // one ping shared with the counter's collect
      this.set(storage.mode === 'degraded' ? 1 : 0);
    },
  });
}
