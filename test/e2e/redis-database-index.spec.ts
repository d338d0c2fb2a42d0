import { ResilientThrottlerStorage } from '../../src/rate-limit/resilient.storage';
import { useTestApp } from '../support/app';
import { TEST_DEFAULTS } from '../support/config';
import { eventually } from '../support/eventually';
import { REDIS_URL } from '../support/postgres';
import { RateLimitProbeModule } from '../support/rate-limit-probe.module';

/** REDIS_URL naming a database the (real) Redis server does not have: it has 16, 0 to 15. */
describe('REDIS_URL with a database index out of range', () => {
  const ctx = useTestApp({
    env: TEST_DEFAULTS,
    extraModules: [RateLimitProbeModule],
    envFactory: () => {
      const url = new URL(REDIS_URL);
      url.pathname = '/99';
      return { REDIS_URL: url.toString() };
    },
  });

  it('reports Redis degraded, naming REDIS_URL, and keeps its counters out of database 0', async () => {
    const res = await eventually(
      async () => {
        const ready = await ctx.app.inject({ method: 'GET', url: '/api/v1/health/ready' });
        expect(ready.json().checks.redis).toMatchObject({ status: 'degraded' });
        return ready;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(res.statusCode).toBe(200); // degraded, not unready: requests are served with per-replica limits
    expect(res.json().checks.redis.error).toMatch(/REDIS_URL selects database 99/);

    const hit = await ctx.app.inject({ method: 'GET', url: '/api/v1/rate-probe-a/hit' });
    expect(hit.statusCode).toBe(200);
    // Not 'redis': ioredis would go on in database 0 after the failed SELECT, shared with whoever uses it.
    expect(ctx.app.get(ResilientThrottlerStorage).mode).toBe('degraded');
  });
});
