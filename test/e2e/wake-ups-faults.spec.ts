import { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { LISTENER_APPLICATION_NAME } from '../../src/wake-ups/postgres-wake-ups';
import { redisWakeUpChannel } from '../../src/wake-ups/wake-ups.module';
import { Session } from '../support/auth';
import { testConfig, TestConfig } from '../support/config';
import { eventually } from '../support/eventually';
import { createTestDatabase, REDIS_URL, TestDatabase } from '../support/postgres';
import {
  bootReplicas,
  listenerPids,
  ONLY_WAKE_UPS,
  Replicas,
  wokenAcrossReplicas as wokenAcrossReplicasOf,
} from '../support/wake-ups';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * Wake-ups between replicas across a real fault: PostgreSQL or Redis becomes unreachable (every connection cut,
 * new ones refused, through a loopback proxy) and comes back. The fallback poll is 30 s and the claim waits
 * 25 s, so the claim can only come back with the run if the transport was re-established by itself. Last, on
 * PostgreSQL, the LISTEN connections go silent without a FIN or a reset (the proxy stops forwarding them and
 * tells neither end): nothing but the replica's own liveness check can notice.
 */
describe.each([
  ['LISTEN/NOTIFY', 'postgres'],
  ['Redis pub/sub', 'redis'],
] as const)('wake-ups over %s after an outage', (_name, kind) => {
  let db: TestDatabase;
  let env: TestConfig;
  let proxy: TcpProxy;
  let a: NestFastifyApplication;
  let b: NestFastifyApplication;
  let alice: Session;
  let replicas: Replicas | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(kind === 'postgres' ? db.url : REDIS_URL);
    proxy = new TcpProxy(target.hostname, Number(target.port || (kind === 'postgres' ? 5432 : 6379)));
    target.port = String(await proxy.start());
    env = testConfig({
      DATABASE_URL: kind === 'postgres' ? target.toString() : db.url,
      ...(kind === 'redis' ? { REDIS_URL: target.toString() } : {}),
      ...ONLY_WAKE_UPS,
      DB_CONNECTION_TIMEOUT_SECS: '2',
    });
    replicas = await bootReplicas(env.config);
    ({ a, b, alice } = replicas);
  });

  afterAll(async () => {
    await proxy?.start(); // let the pools close cleanly
    await replicas?.close();
    await proxy?.stop();
    await db?.drop();
    env?.cleanup();
  });

  /** How many replicas listen now: LISTEN backends in pg_stat_activity, or subscribers of the Redis channel. */
  const listeners = async (): Promise<number[]> => {
    if (kind === 'postgres') {
      return listenerPids(db.name);
    }
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    try {
      await redis.connect();
      const [, count] = (await redis.pubsub('NUMSUB', redisWakeUpChannel(db.url))) as [string, number];
      return Array.from({ length: count }, (_, i) => i);
    } finally {
      redis.disconnect();
    }
  };

  const wokenAcrossReplicas = () => wokenAcrossReplicasOf(a, b, alice);

  it('re-establishes the listeners by itself, and wake-ups resume', async () => {
    const old = await listeners();
    expect(old).toHaveLength(2);
    await proxy.stop();
    await eventually(async () => expect(await listeners()).toHaveLength(0), { timeoutMs: 10_000 });
    await proxy.start();
    await eventually(
      async () => {
        const now = await listeners();
        expect(now).toHaveLength(2);
        if (kind === 'postgres') expect(now.filter((pid) => old.includes(pid))).toEqual([]);
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    await eventually(
      async () => {
        const res = await b.inject({ method: 'GET', url: '/api/v1/health/ready' });
        expect(res.statusCode).toBe(200);
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    await wokenAcrossReplicas();
  }, 60_000);

  it('a reconnect that meets a server that never answers gives up and tries again', async () => {
    expect(await listeners()).toHaveLength(2);
    await proxy.stop();
    // Back, but not answering: the reconnects' TCP connections are accepted and left hanging.
    proxy.unanswering = true;
    await proxy.start();
    // Every replica's listening connection is among the hung ones: PostgreSQL's startup message names the
    // LISTEN connection; ioredis's first command on a connection (CLIENT SETINFO) is sent by the shared client
    // and the subscriber alike.
    const [marker, count] = kind === 'postgres' ? [LISTENER_APPLICATION_NAME, 2] : ['SETINFO', 4];
    await eventually(
      () =>
        expect(
          [...proxy.held].filter((held) => held.received.includes(marker)).length,
        ).toBeGreaterThanOrEqual(count),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    // The server answers again; the hung connections stay hung (as a half-open connection does).
    proxy.unanswering = false;
    await eventually(
      async () => {
        const res = await b.inject({ method: 'GET', url: '/api/v1/health/ready' });
        expect(res.statusCode).toBe(200);
        if (kind === 'redis') expect(res.json().checks.redis.status).toBe('up');
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    await eventually(async () => expect(await listeners()).toHaveLength(2), {
      timeoutMs: 15_000,
      intervalMs: 200,
    });
    await wokenAcrossReplicas();
  }, 60_000);

  if (kind === 'postgres') {
    it('a LISTEN connection gone silent is replaced within seconds, and wake-ups resume', async () => {
      const old = await listeners();
      expect(old).toHaveLength(2);
      expect(proxy.blackHole(LISTENER_APPLICATION_NAME)).toBe(2);
      // 5 s between liveness checks, 2 s for the answer (DB_CONNECTION_TIMEOUT_SECS), then a reconnect.
      await eventually(
        async () => expect((await listeners()).filter((pid) => !old.includes(pid))).toHaveLength(2),
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      await wokenAcrossReplicas();
    }, 60_000);
  }
});
