import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LightMyRequestResponse } from 'fastify';
import { POSTGRES_APPLICATION_NAME } from '../../src/database/data-source.factory';
import { bootApp } from '../support/app';
import { bearer, newSession } from '../support/auth';
import { testConfig, TestConfig } from '../support/config';
import { eventually } from '../support/eventually';
import { createTestDatabase, TestDatabase } from '../support/postgres';
import { TcpProxy } from '../support/tcp-proxy';
import { submitTask } from '../support/tasks';

/** Far beyond DB_QUERY_TIMEOUT_SECS below: an answer later than this is a request left hanging. */
const HANG_MS = 15_000;

/**
 * PostgreSQL going silent under connections the pool already holds: no error, no reset, no answer (the proxy
 * stops forwarding them and tells neither end, as a frozen server or a path dropping packets does). Requests
 * on them must fail within DB_QUERY_TIMEOUT_SECS as 503, and the pool must not hand those connections out again.
 */
describe('requests while PostgreSQL is silent', () => {
  let db: TestDatabase;
  let env: TestConfig;
  let app: NestFastifyApplication;
  let proxy: TcpProxy;

  beforeAll(async () => {
    db = await createTestDatabase();
    const url = new URL(db.url);
    proxy = new TcpProxy(url.hostname, Number(url.port || 5432));
    url.port = String(await proxy.start());
    env = testConfig({
      DATABASE_URL: url.toString(),
      DB_QUERY_TIMEOUT_SECS: '1',
      DB_CONNECTION_TIMEOUT_SECS: '2',
    });
    app = await bootApp(env.config);
  });

  afterAll(async () => {
    await app?.close();
    await proxy?.stop();
    await db?.drop();
    env?.cleanup();
  });

  const answered = async (request: Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> => {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${HANG_MS} ms: the request hangs`)),
        HANG_MS,
      );
    });
    try {
      return await Promise.race([request, hang]);
    } finally {
      clearTimeout(timer);
    }
  };

  const expectUnavailable = (res: LightMyRequestResponse) => {
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'service_unavailable' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  };

  it('a statement, and a transaction, on a silenced connection fail as 503; the pool then serves again', async () => {
    const alice = await newSession(app, 'alice');
    const h = bearer(alice.accessToken);
    const task = await submitTask(app, h);
    const list = () => app.inject({ method: 'GET', url: '/api/v1/tasks', headers: h });
    expect((await list()).statusCode).toBe(200);

    expect(proxy.blackHole(POSTGRES_APPLICATION_NAME)).toBeGreaterThan(0);
    expectUnavailable(await answered(list()));
    // Every silenced connection is closed as a request meets it, never reused: the list answers again.
    await eventually(async () => expect((await answered(list())).statusCode).toBe(200), {
      timeoutMs: 60_000,
      intervalMs: 100,
    });

    // A cancel runs in a transaction: its BEGIN or its statements go unanswered.
    const cancel = () =>
      app.inject({ method: 'POST', url: `/api/v1/tasks/${task.task_id}/cancel`, headers: h });
    expect(proxy.blackHole(POSTGRES_APPLICATION_NAME)).toBeGreaterThan(0);
    expectUnavailable(await answered(cancel()));
    await eventually(async () => expect((await answered(cancel())).statusCode).toBe(200), {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    expect(
      (
        await answered(app.inject({ method: 'GET', url: `/api/v1/tasks/${task.task_id}`, headers: h }))
      ).json(),
    ).toMatchObject({ status: 'cancelled' });
  }, 150_000);
});
