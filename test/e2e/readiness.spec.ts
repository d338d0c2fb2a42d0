import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { bootApp } from '../support/app';
import { testConfig, TestConfig } from '../support/config';
import { eventually } from '../support/eventually';
import { createTestDatabase, REDIS_URL, TestDatabase } from '../support/postgres';
import { TcpProxy } from '../support/tcp-proxy';

/** Readiness against real PostgreSQL and Redis, each reached through a proxy the test can cut. */
describe('GET /api/v1/health/ready', () => {
  let db: TestDatabase;
  let env: TestConfig;
  let app: NestFastifyApplication;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;

  beforeAll(async () => {
    db = await createTestDatabase();
    const pgUrl = new URL(db.url);
    pgProxy = new TcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
    pgUrl.port = String(await pgProxy.start());
    const redisUrl = new URL(REDIS_URL);
    redisProxy = new TcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379));
    redisUrl.port = String(await redisProxy.start());
    env = testConfig({
      DATABASE_URL: pgUrl.toString(),
      REDIS_URL: redisUrl.toString(),
      HEALTH_CHECK_TIMEOUT_MS: '1000',
      DB_CONNECTION_TIMEOUT_SECS: '2',
    });
    app = await bootApp(env.config);
  });

  afterAll(async () => {
    await pgProxy?.start(); // let the pool close cleanly
    await app?.close();
    await pgProxy?.stop();
    await redisProxy?.stop();
    await db?.drop();
    env?.cleanup();
  });

  const ready = () => app.inject({ method: 'GET', url: '/api/v1/health/ready' });

  const readyWith = (status: number) =>
    eventually(
      async () => {
        const res = await ready();
        expect(res.statusCode).toBe(status);
        return res;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );

  it('is 200 with every check up when PostgreSQL and Redis answer', async () => {
    const res = await ready();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'ready',
      checks: { database: { status: 'up' }, redis: { status: 'up' } },
    });
  });

  it('is 503 naming the database while PostgreSQL is unreachable, and 200 again after, without restart', async () => {
    await pgProxy.stop();
    const down = await readyWith(503);
    expect(down.json()).toMatchObject({
      error: 'service_unavailable',
      message: expect.stringContaining('database'),
      checks: { database: { status: 'down' }, redis: { status: 'up' } },
    });
    expect(down.json().request_id).toBeDefined();
    expect(down.headers['retry-after']).toBe('1');
    expect(down.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|password/);

    await pgProxy.start();
    const up = await readyWith(200);
    expect(up.json().checks.database.status).toBe('up');
    expect(up.headers['retry-after']).toBeUndefined();
  });

  it('stays 200 but reports redis as degraded while Redis is unreachable, and recovers by itself', async () => {
    await redisProxy.stop();
    const degraded = await eventually(
      async () => {
        const res = await ready();
        expect(res.json().checks?.redis?.status).toBe('degraded');
        return res;
      },
      { timeoutMs: 15_000, intervalMs: 0 },
    );
    expect(degraded.statusCode).toBe(200);
    expect(degraded.json()).toMatchObject({
      status: 'degraded',
      checks: { database: { status: 'up' }, redis: { status: 'degraded' } },
    });

    await redisProxy.start();
    await eventually(
      async () =>
        expect((await ready()).json()).toMatchObject({
          status: 'ready',
          checks: { redis: { status: 'up' } },
        }),
      { timeoutMs: 15_000, intervalMs: 250 },
    );
  });

  it('answers an API key it cannot look up with 503 to retry, never 401, while PostgreSQL is unreachable', async () => {
    const registered = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { username: 'outage_user', password: 'outage password 123' },
    });
    expect(registered.statusCode).toBe(201);
    const apiKey = registered.json<{ api_key: string }>().api_key;
    const list = () => app.inject({ method: 'GET', url: '/api/v1/tasks', headers: { 'x-api-key': apiKey } });
    await pgProxy.stop();
    try {
      await readyWith(503);
      const res = await list();
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: 'service_unavailable' });
      expect(res.headers['retry-after']).toBe('1');
    } finally {
      await pgProxy.start();
    }
    // Negative control: the same key is valid once the database answers.
    await eventually(async () => expect((await list()).statusCode).toBe(200), {
      timeoutMs: 15_000,
      intervalMs: 250,
    });
    // Now known (cached): authentication passes without the database, and the route's own query is a 503 too.
    await pgProxy.stop();
    try {
      await readyWith(503);
      const res = await list();
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: 'service_unavailable', request_id: expect.any(String) });
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
    } finally {
      await pgProxy.start();
    }
    await eventually(async () => expect((await list()).statusCode).toBe(200), {
      timeoutMs: 15_000,
      intervalMs: 250,
    });
  });

  it('liveness stays 200 whatever the dependencies do', async () => {
    await pgProxy.stop();
    try {
      const res = await app.inject({ method: 'GET', url: '/api/v1/health' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        status: 'healthy',
        version: expect.any(String),
        timestamp: expect.any(String),
      });
    } finally {
      await pgProxy.start();
    }
  });
});
