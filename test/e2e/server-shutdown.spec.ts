import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_DEFAULTS } from '../support/config';
import { eventually } from '../support/eventually';
import { freePort } from '../support/free-port';
import { createTestDatabase, TestDatabase } from '../support/postgres';
import { startServer } from '../support/server-process';
import { fixture } from '../support/wasm';

/** CPU time (user + system) a process has used, in ms, from /proc (Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime: fields 14 and 15 of stat (12 and 13 after the pid and command), in ticks of 10 ms (USER_HZ).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The built server shutting down on SIGTERM while something is still going on (real process, real signal). */
describe('server shutdown', () => {
  let dataDir: string;
  let db: TestDatabase;
  beforeAll(async () => (db = await createTestDatabase()));
  afterAll(() => db?.drop());
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-shutdown-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('lets a module run in flight finish before it closes the WASM engine, then exits 0', async () => {
    const server = await startServer({
      ...TEST_DEFAULTS,
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      DATABASE_URL: db.url,
    });
    const base = `http://127.0.0.1:${server.port}/api/v1`;
    const json = (body: unknown) => ({ 'content-type': 'application/json', body: JSON.stringify(body) });
    const post = (path: string, { body, ...headers }: Record<string, string>) =>
      fetch(`${base}${path}`, { method: 'POST', headers, body });
    const user = { username: 'runner', password: 'correct horse battery' };
    expect((await post('/auth/register', json(user))).status).toBe(201);
    const { access_token } = (await (await post('/auth/login', json(user))).json()) as {
      access_token: string;
    };
    const auth = { authorization: `Bearer ${access_token}` };
    const loop = fixture('loop');
    const upload = await fetch(`${base}/modules`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/wasm' },
      body: new Uint8Array(loop),
    });
    expect(upload.status).toBe(201);

    const before = cpuMs(server.child.pid!);
    const moduleId = createHash('sha256').update(loop).digest('hex');
    const running = post(`/modules/${moduleId}/run`, {
      ...auth,
      ...json({ inputs: null, timeout_ms: 3000 }),
    });
    // The loop spins a thread of the server at full speed: once it has burnt CPU, the run is in the engine.
    await eventually(() => expect(cpuMs(server.child.pid!) - before).toBeGreaterThan(500), {
      timeoutMs: 10_000,
    });
    const stopping = server.stop('SIGTERM');

    const res = await running;
    expect(res.status).toBe(200);
    // Ended by its own timeout (3 s), not by the engine being closed under it (a trap).
    expect(await res.json()).toMatchObject({ outcome: 'timeout', runtime: 'v8' });
    const { code, ms } = await stopping;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(10_000);
  }, 60_000);

  it('exits 0 at once on SIGTERM while Redis is unreachable', async () => {
    const server = await startServer({
      ...TEST_DEFAULTS,
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir,
      DATABASE_URL: db.url,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    });
    const ready = await fetch(`http://127.0.0.1:${server.port}/api/v1/health/ready`);
    expect(await ready.json()).toMatchObject({ checks: { redis: { status: 'degraded' } } });
    const { code, ms } = await server.stop('SIGTERM');
    expect(code).toBe(0);
    // Not the 10 s shutdown deadline: a client that cannot reach Redis is dropped, not asked to QUIT.
    expect(ms).toBeLessThan(5000);
  }, 60_000);
});
