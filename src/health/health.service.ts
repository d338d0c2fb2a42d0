import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import { CoreConfig } from '../common/config/core.config';
import { DatabaseSession } from '../database/transaction-runner';
import { RedisConnection } from '../redis/redis.connection';
import { HealthConfig } from './health.config';

export interface CheckResult {
  status: 'up' | 'down' | 'degraded';
  latency_ms: number;
  error?: string;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

@Injectable()
export class HealthService {
  constructor(
    private readonly core: CoreConfig,
    private readonly config: HealthConfig,
    private readonly database: DatabaseSession,
    private readonly redis: RedisConnection,
    private readonly clock: Clock,
  ) {}

  liveness() {
    return { status: 'healthy', version: this.core.version, timestamp: this.clock.now().toISOString() };
  }

  /** Each dependency answers a trivial query within the timeout; a failure names the check, not internals. */
  async readiness(): Promise<{ ready: boolean; checks: Record<string, CheckResult> }> {
    const checks: Record<string, Promise<CheckResult>> = {
      database: this.check(() => this.database.ping()),
    };
    const redis = this.redis.client;
    // Redis down is degraded, not unready: rate limits fall back to per-replica memory and requests are served.
    const refused = this.redis.problem;
    if (refused) checks.redis = Promise.resolve({ status: 'degraded', latency_ms: 0, error: refused });
    else if (redis)
      checks.redis = this.check(() => redis.ping()).then((r) =>
        r.status === 'down' ? { ...r, status: 'degraded' } : r,
      );
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => checks[name]));
    const byName = Object.fromEntries(names.map((name, i) => [name, results[i]]));
    return { ready: results.every((r) => r.status !== 'down'), checks: byName };
  }

  private async check(probe: () => Promise<unknown>): Promise<CheckResult> {
    const started = performance.now();
    try {
      await withTimeout(probe(), this.config.checkTimeoutMs);
      return { status: 'up', latency_ms: Math.round(performance.now() - started) };
    } catch (error) {
      const message =
        error instanceof Error && /no answer within/.test(error.message) ? error.message : 'unreachable';
      return { status: 'down', latency_ms: Math.round(performance.now() - started), error: message };
    }
  }
}
