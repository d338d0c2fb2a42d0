import { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import Redis from 'ioredis';
import { ResilientThrottlerStorage } from '../../src/rate-limit/resilient.storage';
import { useTestApp } from '../support/app';
import { TEST_DEFAULTS } from '../support/config';
import { eventually } from '../support/eventually';
import { freePort } from '../support/free-port';
import { scrape, valueOf } from '../support/prometheus';
import { startPrivateRedis } from '../support/private-redis';
import { RateLimitProbeModule } from '../support/rate-limit-probe.module';

const LIMIT = 5;

const startRedis = (port: number) =>
  startPrivateRedis(['--port', String(port), '--bind', '127.0.0.1'], { port });

/** A Redis of the test's own, killed mid-load and restarted: requests keep flowing, limits keep applying. */
describe('rate limiting through a Redis outage', () => {
  let port: number;
  let redis: ChildProcess | undefined;

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
  });
  const ctx = useTestApp({
    env: {
      ...TEST_DEFAULTS,
      RATE_LIMIT_GENERAL_RPM: String(LIMIT),
      RATE_LIMIT_GENERAL_BURST: String(LIMIT), // at most the per-minute limit (a start-up error above)
    },
    extraModules: [RateLimitProbeModule],
    envFactory: () => ({ REDIS_URL: `redis://127.0.0.1:${port}` }),
  });
  // Declared after the app's own teardown, so it runs after it (Jest runs after-hooks in declaration order): the
  // app's Redis clients then close with a QUIT answered, not one sent to a killed server (whose ioredis socket
  // timer would outlive the file for 2 s and keep this Jest worker from exiting).
  afterAll(() => {
    redis?.kill('SIGKILL');
  });

  const hit = (ip: string) =>
    ctx.app.inject({ method: 'GET', url: '/api/v1/rate-probe-a/hit', remoteAddress: ip });
  const ready = () => ctx.app.inject({ method: 'GET', url: '/api/v1/health/ready' });
  const ip = () => `10.77.${randomInt(256)}.${randomInt(1, 255)}`;
  const storageMetrics = async () => {
    const { samples } = await scrape(ctx.app);
    return {
      degraded: valueOf(samples, 'rate_limit_storage_degraded'),
      fallbacks: valueOf(samples, 'rate_limit_storage_fallbacks_total'),
    };
  };

  it('serves and limits through the outage, reports degraded, and returns to Redis after', async () => {
    const storage = ctx.app.get(ResilientThrottlerStorage);
    const before = ip();
    for (let i = 0; i < LIMIT; i++) expect((await hit(before)).statusCode).toBe(200);
    expect(storage.mode).toBe('redis');
    expect(await storageMetrics()).toEqual({ degraded: 0, fallbacks: 0 });

    redis!.kill('SIGKILL');
    await new Promise((resolve) => redis!.once('exit', resolve));
    const during = ip();
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT * 3; i++) statuses.push((await hit(during)).statusCode);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT); // still limited, by this replica's memory
    expect(statuses.filter((s) => s === 429)).toHaveLength(LIMIT * 2);
    expect(storage.mode).toBe('degraded');
    expect(storage.fallbacks).toBeGreaterThanOrEqual(1);
    const degraded = await ready();
    expect(degraded.statusCode).toBe(200);
    expect(degraded.json().checks.redis.status).toBe('degraded');
    expect(await storageMetrics()).toEqual({ degraded: 1, fallbacks: 1 });

    redis = await startRedis(port);
    const after = ip();
    const deadline = Date.now() + 15_000;
    while (storage.mode !== 'redis' && Date.now() < deadline) {
      await hit(after);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(storage.mode).toBe('redis');
    // The counters live in Redis again: a fresh client's hits show up there.
    const client = new Redis({ port });
    try {
      const fresh = ip();
      await hit(fresh);
      expect((await client.keys('*:minute}:hits')).length).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }
    const back = await ready();
    expect(back.json().checks.redis.status).toBe('up');
    expect(await storageMetrics()).toEqual({ degraded: 0, fallbacks: 1 });
  });

  it('the gauge follows Redis at each scrape, with no limited request to notice it (as readiness does)', async () => {
    expect(await storageMetrics()).toEqual({ degraded: 0, fallbacks: 1 });
    redis!.kill('SIGKILL');
    await new Promise((resolve) => redis!.once('exit', resolve));
    // Before, only a rate-limited request moved it: a quiet replica's alert never fired.
    await eventually(async () => expect(await storageMetrics()).toEqual({ degraded: 1, fallbacks: 2 }), {
      timeoutMs: 10_000,
    });
    redis = await startRedis(port);
    await eventually(async () => expect(await storageMetrics()).toEqual({ degraded: 0, fallbacks: 2 }), {
      timeoutMs: 15_000,
    });
  });
});
