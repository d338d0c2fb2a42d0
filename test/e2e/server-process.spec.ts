import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../src/config/load-config';
import { createDataSource } from '../../src/database/data-source.factory';
import { MIGRATIONS } from '../../migrations';
import { createTestDatabase, TestDatabase } from '../support/postgres';
import { seedDataDir } from '../support/pglite-template';
import { MAIN, requireBuild, runServerToExit, startServer } from '../support/server-process';

const LINE_BATCHER = join(dirname(MAIN), 'logging', 'line-batcher.js');

/** The built server as `npm start` runs it: a real process, real signals, real sockets. */
describe('the server process', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-proc-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const get = (port: number, path: string) => fetch(`http://127.0.0.1:${port}${path}`);

  async function withEmbeddedDb<T>(
    fn: (query: (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>) => Promise<T>,
  ) {
    const ds = await createDataSource(loadConfig({ DATA_DIR: dataDir, ENVIRONMENT: 'test' }), {
      migrationsRun: false,
    });
    await ds.initialize();
    try {
      return await fn((sql, params) => ds.query(sql, params));
    } finally {
      await ds.destroy();
    }
  }

  it('serves on embedded PGlite in DATA_DIR with no database server, and keeps its data across restarts', async () => {
    const first = await startServer({ DATA_DIR: dataDir });
    const health = await get(first.port, '/api/v1/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'healthy' });
    expect((await get(first.port, '/api/v1/health/ready')).status).toBe(200);
    expect(first.output()).toContain('embedded PostgreSQL (PGlite)');
    // Nest's hundred start-up lines (modules, routes) are debug: the listening line is not buried.
    expect(first.output()).not.toMatch(/dependencies initialized|Mapped \{/);
    expect((await first.stop()).code).toBe(0);
    const secrets = readFileSync(join(dataDir, 'secrets.json'), 'utf8');

    await withEmbeddedDb((query) =>
      query(`INSERT INTO users (username, password_hash) VALUES ('survivor', 'not-a-real-hash')`),
    );

    const second = await startServer({ DATA_DIR: dataDir });
    expect((await get(second.port, '/api/v1/health/ready')).status).toBe(200);
    expect((await second.stop()).code).toBe(0);

    await withEmbeddedDb(async (query) => {
      expect(await query(`SELECT username FROM users`)).toEqual([{ username: 'survivor' }]);
      const [{ n }] = await query(`SELECT count(*)::int AS n FROM migrations`);
      expect(n).toBe(MIGRATIONS.length); // applied once, not again on restart
    });
    expect(readFileSync(join(dataDir, 'secrets.json'), 'utf8')).toBe(secrets); // tokens survive restarts
  }, 240_000); // a fresh embedded database boots in seconds, but slowly on a loaded 2-core machine

  describe('on PostgreSQL', () => {
    let db: TestDatabase;
    beforeAll(async () => (db = await createTestDatabase({ migrated: false })));
    afterAll(() => db?.drop());

    it('serves with DATABASE_URL and migrates the database', async () => {
      const server = await startServer({ DATA_DIR: dataDir, DATABASE_URL: db.url });
      try {
        expect((await get(server.port, '/api/v1/health')).status).toBe(200);
        const ready = await get(server.port, '/api/v1/health/ready');
        expect(ready.status).toBe(200);
        expect(server.output()).toContain('database: PostgreSQL');
      } finally {
        expect((await server.stop()).code).toBe(0);
      }
    });

    it('on SIGTERM finishes the request in flight, then exits 0 within 10 s', async () => {
      const server = await startServer({ DATA_DIR: dataDir, DATABASE_URL: db.url });
      const body = JSON.stringify({ probe: 'x'.repeat(64) });
      const socket = connect(server.port, '127.0.0.1');
      let response = '';
      let respondedAt = 0;
      socket.on('data', (chunk) => {
        response += chunk.toString();
        respondedAt ||= Date.now();
      });
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        `POST /api/v1/no-such-route HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));

      const stopping = server.stop('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(server.child.exitCode).toBeNull(); // still waiting for our request
      expect(response).toBe('');
      const sentRestAt = Date.now();
      socket.write(body.slice(10));

      const { code, ms } = await stopping;
      socket.destroy();
      expect(code).toBe(0);
      expect(ms).toBeLessThan(10_000);
      expect(respondedAt).toBeGreaterThanOrEqual(sentRestAt);
      expect(response).toMatch(/^HTTP\/1\.1 404 /); // a full, ordinary answer to the in-flight request
      expect(response).toContain('"error":"not_found"');
      // Its log line, written just before the exit, is not lost in the log batch (src/logging/line-batcher.ts).
      expect(server.output()).toMatch(/"route":"unmatched".*"statusCode":404/);
    });

    it('SIGINT also shuts down cleanly', async () => {
      const server = await startServer({ DATA_DIR: dataDir, DATABASE_URL: db.url });
      const { code, ms } = await server.stop('SIGINT');
      expect(code).toBe(0);
      expect(ms).toBeLessThan(10_000);
    });
  });

  it('writes the log lines still batched when the process exits', async () => {
    requireBuild();
    const run = (batcher: string) =>
      new Promise<string>((resolve, reject) => {
        const script =
          `const { LineBatcher, batchedStdout } = require(${JSON.stringify(LINE_BATCHER)});` +
          `const out = ${batcher};` +
          `for (let i = 0; i < 1000; i++) out.write('line ' + i + '\\n');` +
          `process.exit(0);`;
        const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.once('error', reject);
        child.once('close', () => resolve(out));
      });
    const lines = (await run('batchedStdout()')).trim().split('\n');
    expect(lines).toHaveLength(1000);
    expect(lines[999]).toBe('line 999');
    // Control: a batcher without the exit hook loses the lines of the turn the process exits in.
    expect(await run('new LineBatcher(process.stdout)')).toBe('');
  });

  it('refuses to start in production with a weak secret, naming the variable and not the value', async () => {
    const weak = 'changeme-changeme-changeme-changeme';
    const { code, output } = await runServerToExit({
      DATA_DIR: dataDir,
      ENVIRONMENT: 'production',
      JWT_SECRET: weak,
      REFRESH_TOKEN_PEPPER: 'a-strong-pepper-value-1234567890',
      API_KEY_PEPPER: 'another-strong-pepper-0987654321',
      CORS_ALLOWED_ORIGINS: 'https://app.example.com',
    });
    expect(code).toBe(78);
    expect(output).toContain('JWT_SECRET');
    expect(output).not.toContain(weak);
    expect(output).not.toContain('a-strong-pepper-value');
  });

  it('refuses a directory variable whose path cannot be a directory at the config check: exit 78, said on stderr and as the fatal line', async () => {
    const { code, output } = await runServerToExit({
      DATA_DIR: dataDir,
      WASM_ALLOWED_ROOTS: '/dev/null/sub',
    });
    expect(code).toBe(78);
    const lines = output.trim().split('\n');
    const message =
      'Invalid configuration:\n  - WASM_ALLOWED_ROOTS: cannot create /dev/null/sub: /dev/null is not a directory';
    expect(lines.filter((line) => !line.startsWith('{')).join('\n')).toBe(message);
    // A log pipeline reading stdout sees why too, as for every other failed start (README: Metrics and logs).
    expect(lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as unknown)).toEqual([
      expect.objectContaining({ level: 60, context: 'Bootstrap', msg: `startup failed: ${message}` }),
    ]);
  });

  /** An explained failure is its one fatal line: no error line before it (Nest's report), no stack. */
  const expectOnlyTheExplanation = (output: string) => {
    expect(output).not.toContain('    at ');
    expect(output).not.toContain('"level":50');
    expect(output).toContain('"level":60');
  };

  it('a HOST listen() cannot use is a setting to fix (one line, exit 78); a PORT in use is named (exit 1)', async () => {
    // A documentation address (RFC 5737), on no interface here; a name that does not resolve would ask the
    // network's name service (listen-failure.spec covers that mapping).
    // Both fail after opening the database: one made already (initdb is not what this tests).
    seedDataDir(dataDir);
    const wrongHost = await runServerToExit({ DATA_DIR: dataDir, HOST: '192.0.2.1' });
    expect([wrongHost.code, wrongHost.output.trim().split('\n').at(-1)]).toEqual([
      78,
      'startup failed: HOST=192.0.2.1 is not an address of this machine',
    ]);
    expectOnlyTheExplanation(wrongHost.output);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const { code, output } = await runServerToExit({
        DATA_DIR: dataDir,
        HOST: '127.0.0.1',
        PORT: String(port),
      });
      expect([code, output.trim().split('\n').at(-1)]).toEqual([
        1,
        `startup failed: PORT=${port} on 127.0.0.1 is already in use by another process`,
      ]);
      expectOnlyTheExplanation(output);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('a failed start logs JSON lines at LOG_LEVEL, the last one fatal, and exits 1 (not Nest’s console report)', async () => {
    // The embedded database is in use by a live process (this one): the database module fails as it starts.
    writeFileSync(join(dataDir, 'pgdata.lock'), String(process.pid));
    const run = (level: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [MAIN], {
          env: {
            PATH: process.env.PATH ?? '',
            PORT: '0',
            EMBEDDED_NODE: 'off',
            DATA_DIR: dataDir,
            LOG_LEVEL: level,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('exit', (code) => resolve({ code, stdout, stderr }));
      });
    const info = await run('info');
    expect(info.code).toBe(1);
    const lines = info.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines.at(-1)).toMatchObject({
      level: 60,
      msg: expect.stringContaining('startup failed: The embedded database'),
    });
    expect(info.stdout).not.toContain('\u001b['); // no ANSI colours
    expect(info.stderr).toContain('startup failed: The embedded database');
    expectOnlyTheExplanation(info.stdout);
    const silent = await run('silent');
    expect([silent.code, silent.stdout]).toEqual([1, '']);
  });

  it('an unexpected failed start still logs its stack (control for the explained ones above)', async () => {
    // A PG_VERSION no PostgreSQL wrote: PGlite fails to open, an error nobody explained.
    mkdirSync(join(dataDir, 'pgdata'));
    writeFileSync(join(dataDir, 'pgdata', 'PG_VERSION'), 'not a version\n');
    const { code, output } = await runServerToExit({ DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    expect(code).toBe(1);
    expect(output).toMatch(/"level":50,[^\n]*"context":"ExceptionHandler"[^\n]*\\n {4}at /);
    expect(output).toContain('"level":60');
  });
});
