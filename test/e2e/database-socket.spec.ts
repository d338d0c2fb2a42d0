import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { POSTGRES_APPLICATION_NAME } from '../../src/database/data-source.factory';
import { bootApp } from '../support/app';
import { testConfig, TestConfig } from '../support/config';
import { admin, ADMIN_URL, createTestDatabase, TestDatabase } from '../support/postgres';

/**
 * DATABASE_URL naming a Unix socket, as co-located servers and Cloud SQL connect: the real PostgreSQL's own
 * socket directory, in node-postgres's `?host=/dir` form.
 */
describe('PostgreSQL over a Unix socket (DATABASE_URL with ?host=/socket/directory)', () => {
  let db: TestDatabase;
  let env: TestConfig | undefined;
  let app: NestFastifyApplication | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    const setting = await admin((c) =>
      c.query<{ dirs: string }>('SELECT current_setting($1) AS dirs', ['unix_socket_directories']),
    );
    const socketDirectory = setting.rows[0].dirs.split(',')[0]?.trim() || undefined;
    if (!socketDirectory) return;
    const user = new URL(ADMIN_URL).username || 'postgres';
    env = testConfig({
      DATABASE_URL: `postgresql:///${db.name}?host=${encodeURIComponent(socketDirectory)}&user=${user}`,
    });
    app = await bootApp(env.config);
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
    env?.cleanup();
  });

  it('starts, answers ready and writes, with every connection of its own on the socket', async () => {
    if (!app) {
      console.warn('database-socket.spec.ts: this PostgreSQL server listens on no Unix socket: not run');
      return;
    }
    const register = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { username: 'socket_user', password: 'correct horse battery' },
    });
    expect(register.statusCode).toBe(201);
    const ready = await app.inject({ method: 'GET', url: '/api/v1/health/ready' });
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { database: { status: 'up' } } });

    // client_port is -1 for a Unix-socket session; a TCP one (the localhost default) has a real port.
    const sessions = await admin((c) =>
      c.query<{ client_port: number }>(
        'SELECT client_port FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
        [db.name, POSTGRES_APPLICATION_NAME],
      ),
    );
    expect(sessions.rows.length).toBeGreaterThan(0);
    expect(sessions.rows.map((row) => row.client_port)).toEqual(sessions.rows.map(() => -1));
  });
});
