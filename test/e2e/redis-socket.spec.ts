import { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { ResilientThrottlerStorage } from '../../src/rate-limit/resilient.storage';
import { useTestApp } from '../support/app';
import { TEST_DEFAULTS } from '../support/config';
import { startPrivateRedis } from '../support/private-redis';
import { RateLimitProbeModule } from '../support/rate-limit-probe.module';

const LIMIT = 3;
const PASSWORD = 'socket-only-secret';

/**
 * A Redis of the test's own that listens on a Unix socket only (no TCP port), with a password, reached through
 * `REDIS_URL=unix://:password@/dir/redis.sock?db=3`: rate-limit counters land in database 3 of that server and
 * the wake-up subscription runs on it.
 */
describe('REDIS_URL on a Unix socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcp-redis-socket-'));
  const socket = join(dir, 'redis.sock');
  let server: ChildProcess | undefined;
  const client = (db: number) =>
    new Redis({ path: socket, db, password: PASSWORD, lazyConnect: true, retryStrategy: () => null });

  beforeAll(async () => {
    server = await startPrivateRedis(
      ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--requirepass', PASSWORD],
      { path: socket, password: PASSWORD },
    );
  });
  afterAll(() => {
    server?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  // Inside its own block so that the app closes (the inner afterAll) before the server is killed.
  describe('the app', () => {
    const ctx = useTestApp({
      env: {
        ...TEST_DEFAULTS,
        RATE_LIMIT_GENERAL_RPM: String(LIMIT),
        RATE_LIMIT_GENERAL_BURST: String(LIMIT),
      },
      extraModules: [RateLimitProbeModule],
      envFactory: () => ({ REDIS_URL: `unix://:${PASSWORD}@${socket}?db=3` }),
    });

    it('keeps rate limits in the socket server’s database 3 and subscribes to wake-ups there', async () => {
      const ready = await ctx.app.inject({ method: 'GET', url: '/api/v1/health/ready' });
      expect(ready.json().checks.redis).toMatchObject({ status: 'up' });

      const hit = () =>
        ctx.app.inject({ method: 'GET', url: '/api/v1/rate-probe-a/hit', remoteAddress: '10.9.8.7' });
      for (let i = 0; i < LIMIT; i++) expect((await hit()).statusCode).toBe(200);
      expect((await hit()).statusCode).toBe(429);
      expect(ctx.app.get(ResilientThrottlerStorage).mode).toBe('redis');

      const [db3, db0] = [client(3), client(0)];
      try {
        await Promise.all([db3.connect(), db0.connect()]);
        expect((await db3.keys('{vcp:rl:*')).length).toBeGreaterThan(0);
        expect(await db0.keys('{vcp:rl:*')).toEqual([]); // the URL's database, not ioredis's default
        // Pub/sub ignores databases: the replica's subscriber is on this server.
        expect(await db0.pubsub('CHANNELS', 'vcp:work:*')).toHaveLength(1);
      } finally {
        db3.disconnect();
        db0.disconnect();
      }
    });
  });
});
