import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Client } from 'pg';
import { LISTENER_APPLICATION_NAME } from '../../src/wake-ups/postgres-wake-ups';
import { bootApp } from '../support/app';
import { newSession, Session } from '../support/auth';
import { testConfig, TestConfig } from '../support/config';
import { eventually } from '../support/eventually';
import { ADMIN_URL, createTestDatabase, TestDatabase } from '../support/postgres';
import { TcpProxy } from '../support/tcp-proxy';
import { wokenAcrossReplicas } from '../support/wake-ups';

/**
 * The LISTEN connections go silent without a FIN or a reset (a loopback proxy stops forwarding them and tells
 * neither end): nothing but the replica's own liveness check can notice. The fallback poll is 30 s and the
 * claim waits 25 s, so the claim can only come back with the run if the listeners were replaced.
 */
describe('wake-ups over LISTEN/NOTIFY after the LISTEN connections silently die', () => {
  let db: TestDatabase;
  let env: TestConfig;
  let proxy: TcpProxy;
  let a: NestFastifyApplication;
  let b: NestFastifyApplication;
  let alice: Session;

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    target.port = String(await proxy.start());
    env = testConfig({
      DATABASE_URL: target.toString(),
      SCHEDULER_FALLBACK_POLL_MS: '30000',
      SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
      DB_CONNECTION_TIMEOUT_SECS: '2',
    });
    a = await bootApp(env.config);
    b = await bootApp(env.config);
    alice = await newSession(a, 'alice');
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await proxy?.stop();
    await db?.drop();
    env?.cleanup();
  });

  /** The LISTEN backends of this database (a silenced one stays: PostgreSQL was told nothing either). */
  const listeners = async (): Promise<number[]> => {
    const admin = new Client({ connectionString: ADMIN_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`,
        [db.name, LISTENER_APPLICATION_NAME],
      );
      return rows.map((row) => row.pid);
    } finally {
      await admin.end();
    }
  };

  it('each replica replaces its silent listener within seconds, and wake-ups resume', async () => {
    const old = await listeners();
    expect(old).toHaveLength(2);
    expect(proxy.blackHole(LISTENER_APPLICATION_NAME)).toBe(2);
    // 5 s between liveness checks, 2 s for the answer (DB_CONNECTION_TIMEOUT_SECS), then a reconnect.
    await eventually(
      async () => expect((await listeners()).filter((pid) => !old.includes(pid))).toHaveLength(2),
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    await wokenAcrossReplicas(a, b, alice);
  }, 60_000);
});
