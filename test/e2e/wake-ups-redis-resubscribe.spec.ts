import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ClaimService } from '../../src/scheduling/claim.service';
import { TestAgent } from '../support/agent';
import { bearer, Session } from '../support/auth';
import { testConfig, TestConfig } from '../support/config';
import { eventually } from '../support/eventually';
import { createTestDatabase, REDIS_URL, TestDatabase } from '../support/postgres';
import { TcpProxy } from '../support/tcp-proxy';
import { submitTask } from '../support/tasks';
import { bootReplicas, ONLY_WAKE_UPS, Replicas } from '../support/wake-ups';

/**
 * Replica `b` reaches Redis through a loopback proxy, `a` directly, and `b`'s subscription misses a wake-up `a`
 * publishes. The fallback poll is 30 s and the claim waits 25 s: the claim is answered within the bound only if
 * `b` notices and looks again by itself.
 */
describe('wake-ups over Redis when the subscriber of a replica misses one', () => {
  let db: TestDatabase;
  let envA: TestConfig;
  let envB: TestConfig;
  let proxy: TcpProxy;
  let a: NestFastifyApplication;
  let b: NestFastifyApplication;
  let alice: Session;
  let replicas: Replicas | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(REDIS_URL);
    proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
    target.port = String(await proxy.start());
    const common = {
      DATABASE_URL: db.url,
      ...ONLY_WAKE_UPS,
      // Two DATA_DIRs would generate two sets of secrets: the replicas of one deployment share theirs.
      JWT_SECRET: 'k7Qw9zR2mX4pL8vN1bY6cF3hJ5tG0sAa',
      REFRESH_TOKEN_PEPPER: 'a-strong-pepper-value-1234567890',
      API_KEY_PEPPER: 'another-strong-pepper-0987654321',
    };
    envA = testConfig({ ...common, REDIS_URL });
    envB = testConfig({ ...common, REDIS_URL: target.toString() });
    replicas = await bootReplicas(envA.config, envB.config);
    ({ a, b, alice } = replicas);
  });

  afterAll(async () => {
    proxy?.release();
    await replicas?.close();
    await proxy?.stop();
    await db?.drop();
    envA?.cleanup();
    envB?.cleanup();
  });

  // `b`'s connections are cut; as its subscriber reconnects, the proxy holds its SUBSCRIBE back while `a`
  // commits work and publishes, to nobody.
  it('published while re-subscribing: the claim looks again once subscribed, and gets the work', async () => {
    const agent = await TestAgent.register(b, bearer(alice.accessToken));
    const claims = b.get(ClaimService);
    const before = claims.waiting;
    const waiting = agent.claimRaw({ max: 1, wait_ms: 25_000 });
    await eventually(() => expect(claims.waiting).toBe(before + 1));

    proxy.holdFrom = 'subscribe';
    await proxy.stop();
    await proxy.start();
    // Only the subscriber sends SUBSCRIBE; it is held (well inside its 2 s socket timeout) while `a` publishes.
    await eventually(() => expect(proxy.heldBackCount).toBe(1), { timeoutMs: 10_000, intervalMs: 10 });
    const task = await submitTask(a, bearer(alice.accessToken));
    proxy.release();

    await eventually(() => expect(claims.waiting).toBe(before), { timeoutMs: 10_000, intervalMs: 50 });
    const res = await waiting;
    expect(res.statusCode).toBe(200);
    expect(res.json().runs).toEqual([expect.objectContaining({ task_id: task.task_id })]);
  }, 60_000);

  // `b`'s subscriber connection goes silent without a FIN or a reset: only its own PING can tell.
  it('published to a subscription that silently died: it is replaced within seconds, and the claim gets the work', async () => {
    const agent = await TestAgent.register(b, bearer(alice.accessToken));
    const claims = b.get(ClaimService);
    const before = claims.waiting;
    const waiting = agent.claimRaw({ max: 1, wait_ms: 25_000 });
    await eventually(() => expect(claims.waiting).toBe(before + 1));

    expect(proxy.blackHole('subscribe')).toBe(1);
    const task = await submitTask(a, bearer(alice.accessToken));

    // A PING every 5 s, unanswered after 2 s, then a reconnect and a re-subscription.
    await eventually(() => expect(claims.waiting).toBe(before), { timeoutMs: 15_000, intervalMs: 50 });
    const res = await waiting;
    expect(res.statusCode).toBe(200);
    expect(res.json().runs).toEqual([expect.objectContaining({ task_id: task.task_id })]);
  }, 60_000);
});
