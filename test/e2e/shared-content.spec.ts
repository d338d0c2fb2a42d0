import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { PROGRAMS } from '../../src/programs/program-catalog';
import { TEST_ADMIN } from '../support/admin';
import { AgentProcess, startAgent } from '../support/agent-process';
import { TEST_DEFAULTS } from '../support/config';
import { MODULES } from '../support/content';
import { eventually } from '../support/eventually';
import { createTestDatabase, TestDatabase } from '../support/postgres';
import { ServerProcess, startServer } from '../support/server-process';
import { sha256, uniqueFixture } from '../support/wasm';
import { circuitPayload, zkFixture } from '../support/zk';

const REQUIREMENTS = { min_nodes: 1, max_execution_time_sec: 30 };

/**
 * Issue 19: two API server processes on one PostgreSQL database, each with its own DATA_DIR (no shared
 * disk). What is stored through one replica is served by the other: a module uploaded on A runs on an agent
 * that talks to B only, and a circuit registered on A is downloaded from B.
 */
describe('shared content between two server replicas (PostgreSQL)', () => {
  let db: TestDatabase;
  let pg: Client;
  const dirs: string[] = [];
  const replicas: ServerProcess[] = [];
  let agent: AgentProcess | undefined;
  let [a, b] = ['', ''];
  let [dataDirA, dataDirB] = ['', ''];

  const api = async (
    base: string,
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
  ) => {
    const raw = Buffer.isBuffer(body);
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { 'content-type': raw ? 'application/wasm' : 'application/json' }),
      },
      body: body === undefined ? undefined : raw ? new Uint8Array(body) : JSON.stringify(body),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const json = res.headers.get('content-type')?.includes('json')
      ? (JSON.parse(bytes.toString()) as Record<string, any>)
      : null;
    return { status: res.status, bytes, json };
  };
  const login = async (base: string, username: string, password: string) =>
    (await api(base, 'POST', '/auth/login', {}, { username, password })).json!.access_token as string;
  const cached = (dataDir: string, id: string) => join(dataDir, 'content-cache', MODULES, `${id}.wasm`);

  beforeAll(async () => {
    // Migrated already: two replicas booting at once is what this test is about, not two concurrent migrators.
    db = await createTestDatabase();

    // Secrets are shared by every replica of a deployment (otherwise each generates its own in DATA_DIR).
    const shared = {
      ...TEST_DEFAULTS,
      LOG_LEVEL: 'info', // startServer waits for the "listening on" line
      DATABASE_URL: db.url,
      EMBEDDED_NODE: 'off',
      JWT_SECRET: randomBytes(32).toString('hex'),
      REFRESH_TOKEN_PEPPER: randomBytes(32).toString('hex'),
      API_KEY_PEPPER: randomBytes(32).toString('hex'),
      RECEIPT_SIGNING_KEY: randomBytes(32).toString('base64'),
    };
    [dataDirA, dataDirB] = [
      mkdtempSync(join(tmpdir(), 'vcp-replica-a-')),
      mkdtempSync(join(tmpdir(), 'vcp-replica-b-')),
    ];
    dirs.push(dataDirA, dataDirB);
    // Both boot at once: each registers the built-in programs in the shared store, concurrently.
    const booted = await Promise.allSettled([
      startServer({
        ...shared,
        DATA_DIR: dataDirA,
        ADMIN_USERNAME: TEST_ADMIN.username,
        ADMIN_PASSWORD: TEST_ADMIN.password,
      }),
      startServer({ ...shared, DATA_DIR: dataDirB }),
    ]);
    for (const result of booted) if (result.status === 'fulfilled') replicas.push(result.value);
    for (const result of booted) if (result.status === 'rejected') throw result.reason;
    [a, b] = replicas.map((replica) => `http://127.0.0.1:${replica.port}`);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  }, 180_000);

  afterAll(async () => {
    agent?.child.kill('SIGKILL');
    await agent?.exited;
    await pg?.end();
    await Promise.all(replicas.map((replica) => replica.stop()));
    await db?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('both replicas booted together and stored each built-in program once', async () => {
    const { rows } = await pg.query(
      `SELECT sha256 FROM content_objects WHERE namespace = $1 AND sha256 = ANY($2) ORDER BY sha256`,
      [MODULES, PROGRAMS.map((program) => program.sha256)],
    );
    expect(rows.map((row) => row.sha256)).toEqual(PROGRAMS.map((program) => program.sha256).sort());
  });

  it('a module uploaded on A runs on an agent served by B alone; so does a built-in program', async () => {
    const user = { username: 'uploader', password: 'correct horse battery' };
    expect((await api(a, 'POST', '/auth/register', {}, user)).status).toBe(201);
    const onA = { authorization: `Bearer ${await login(a, user.username, user.password)}` };
    const onB = { authorization: `Bearer ${await login(b, user.username, user.password)}` };

    const bytes = uniqueFixture('echo');
    const id = sha256(bytes);
    const upload = await api(a, 'POST', '/modules', onA, bytes);
    expect(upload.status).toBe(201);
    expect(upload.json).toMatchObject({ module_id: id });
    // Negative control: only A has a copy on disk; B can only get the bytes from the database.
    expect(readFileSync(cached(dataDirA, id)).equals(bytes)).toBe(true);
    expect(existsSync(cached(dataDirB, id))).toBe(false);
    expect(existsSync(join(dataDirB, 'wasm-modules', `${id}.wasm`))).toBe(false);

    const inputs = { replica: 'b', n: [1, 2, 3] };
    const wasmTask = await api(a, 'POST', '/tasks', onA, {
      task_type: 'wasm_execution',
      module_id: id,
      inputs,
      requirements: REQUIREMENTS,
    });
    expect(wasmTask.status).toBe(201);
    const computation = await api(a, 'POST', '/tasks', onA, {
      task_type: 'computation',
      inputs: { program: 'expression', expression: '2+3*4' },
      requirements: REQUIREMENTS,
    });
    expect(computation.status).toBe(201);

    const key = (
      await api(b, 'POST', '/api-keys', onB, { name: 'agent', scopes: ['nodes:write', 'nodes:read'] })
    ).json!.api_key as string;
    const agentDir = mkdtempSync(join(tmpdir(), 'vcp-agent-'));
    dirs.push(agentDir);
    agent = startAgent(['--server', b, '--api-key', key, '--node-id', 'agent-on-b'], {
      VCP_AGENT_DIR: agentDir,
      VCP_AGENT_CONCURRENCY: '2',
      VCP_REGION: 'test-region',
    });

    const final = (taskId: string) =>
      eventually(
        async () => {
          const task = (await api(a, 'GET', `/tasks/${taskId}`, onA)).json!;
          if (!['completed', 'failed', 'cancelled'].includes(task.status as string)) {
            throw new Error(`task is ${task.status}; agent said:\n${agent!.output()}`);
          }
          return task;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
    expect(await final(wasmTask.json!.task_id as string)).toMatchObject({
      status: 'completed',
      result: inputs,
    });
    expect(await final(computation.json!.task_id as string)).toMatchObject({
      status: 'completed',
      result: { result: 14 },
    });
    expect(agent.events().filter((event) => event.event === 'claimed').length).toBeGreaterThan(0);
    // B served the module from the database and kept a verified copy in its own cache.
    expect(readFileSync(cached(dataDirB, id)).equals(bytes)).toBe(true);
    const download = await api(b, 'GET', `/modules/${id}/download`, { 'x-api-key': key });
    expect(download.status).toBe(200);
    expect(download.bytes.equals(bytes)).toBe(true);
  }, 120_000);

  it('a circuit registered on A is downloaded from B', async () => {
    const admin = { authorization: `Bearer ${await login(a, TEST_ADMIN.username, TEST_ADMIN.password)}` };
    const registered = await api(
      a,
      'POST',
      '/admin/circuits',
      admin,
      circuitPayload('multiplier', 'groth16', { wasm: true, zkey: true }),
    );
    expect(registered.status).toBe(201);
    const circuitId = registered.json!.circuit_id as string;
    const f = zkFixture('multiplier', 'groth16');
    expect(existsSync(join(dataDirB, 'content-cache', 'circuit-blobs', sha256(f.zkey).slice(0, 2)))).toBe(
      false,
    );

    const onB = { authorization: `Bearer ${await login(b, TEST_ADMIN.username, TEST_ADMIN.password)}` };
    const wasm = await api(b, 'GET', `/circuits/${circuitId}/wasm`, onB);
    const zkey = await api(b, 'GET', `/circuits/${circuitId}/zkey`, onB);
    expect([wasm.status, zkey.status]).toEqual([200, 200]);
    expect(wasm.bytes.equals(f.wasm)).toBe(true);
    expect(zkey.bytes.equals(f.zkey)).toBe(true);
  });
});
