import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { WakeUpTransport } from '../../src/wake-ups/wake-up-transport';
import { bootApp } from '../support/app';
import { newSession, Session } from '../support/auth';
import { testConfig, TestConfig } from '../support/config';
import { eventually } from '../support/eventually';
import { createTestDatabase, REDIS_URL, TestDatabase } from '../support/postgres';
import { wokenAcrossReplicas } from '../support/wake-ups';

/**
 * REDIS_URL names a database the real Redis server does not have (it has 16): Redis is set aside until a
 * restart (rate limits per replica, readiness `degraded`), and wake-ups go through PostgreSQL. The fallback
 * poll is 30 s and the claim waits 25 s, so the claim can only come back with the run if a wake-up reached it.
 */
describe('wake-ups between replicas when Redis refuses REDIS_URL database index', () => {
  let db: TestDatabase;
  let env: TestConfig;
  let a: NestFastifyApplication;
  let b: NestFastifyApplication;
  let alice: Session;

  beforeAll(async () => {
    db = await createTestDatabase();
    const redisUrl = new URL(REDIS_URL);
    redisUrl.pathname = '/99';
    env = testConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl.toString(),
      SCHEDULER_FALLBACK_POLL_MS: '30000',
      SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
    });
    a = await bootApp(env.config);
    b = await bootApp(env.config);
    alice = await newSession(a, 'alice');
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
    env?.cleanup();
  });

  it('move to PostgreSQL LISTEN/NOTIFY, and a submission on one replica wakes a claim on the other', async () => {
    await eventually(
      async () => {
        const ready = await b.inject({ method: 'GET', url: '/api/v1/health/ready' });
        expect(ready.json().checks.redis).toMatchObject({ status: 'degraded' });
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    await eventually(() =>
      expect([a, b].map((app) => app.get(WakeUpTransport).kind)).toEqual(['postgres', 'postgres']),
    );
    await wokenAcrossReplicas(a, b, alice);
  }, 60_000);
});
