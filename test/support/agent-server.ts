import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { AgentProcess } from './agent-process';
import { TEST_DEFAULTS } from './config';
import { createTestDatabase, TestDatabase } from './postgres';
import { ServerProcess, startServer } from './server-process';

export interface ApiAnswer {
  status: number;
  json: Record<string, any>;
}

/** What the agent process specs share: the built server on a private PostgreSQL database, one account. */
export interface AgentServer {
  /** The server's base URL (what `--server` takes), once beforeAll ran. */
  readonly base: string;
  /** A connection to the server's database, for what the API does not show. */
  readonly pg: Client;
  /** A request as the account (its access token), or with `key` as X-Api-Key. */
  api(method: string, path: string, body?: unknown, key?: string): Promise<ApiAnswer>;
  /** A fresh directory, removed after the file's tests. */
  tempDir(): string;
  /** Keeps an agent to SIGKILL after the file's tests (if it is still running). */
  track(agent: AgentProcess): AgentProcess;
  /** Sends the server process a signal (SIGSTOP and SIGCONT pause and resume it). */
  signalServer(signal: NodeJS.Signals): void;
  /** What the server printed so far. */
  serverOutput(): string;
}

/**
 * Registers beforeAll/afterAll: the built server (`dist/src/main.js`) with no embedded node on a fresh
 * database, `username` registered and logged in; afterwards every tracked agent is killed and every directory
 * removed. `env` adds server settings.
 */
export function useAgentServer(username: string, env: Record<string, string> = {}): AgentServer {
  let db: TestDatabase | undefined;
  let server: ServerProcess | undefined;
  let token = '';
  const dirs: string[] = [];
  const agents: AgentProcess[] = [];
  const state = { base: '', pg: undefined as Client | undefined };

  const context: AgentServer = {
    get base() {
      return state.base;
    },
    get pg() {
      if (!state.pg) throw new Error('useAgentServer: the database is not connected yet (beforeAll)');
      return state.pg;
    },
    async api(method, path, body, key) {
      const res = await fetch(`${state.base}/api/v1${path}`, {
        method,
        headers: {
          ...(key ? { 'x-api-key': key } : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json().catch(() => null)) as Record<string, any> };
    },
    tempDir() {
      const dir = mkdtempSync(join(tmpdir(), 'vcp-agent-'));
      dirs.push(dir);
      return dir;
    },
    track(agent) {
      agents.push(agent);
      return agent;
    },
    signalServer(signal) {
      server?.child.kill(signal);
    },
    serverOutput: () => server?.output() ?? '',
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startServer({
      ...TEST_DEFAULTS,
      LOG_LEVEL: 'info', // startServer waits for the "listening" line
      DATA_DIR: context.tempDir(),
      DATABASE_URL: db.url,
      EMBEDDED_NODE: 'off',
      ...env,
    });
    state.base = `http://127.0.0.1:${server.port}`;
    state.pg = new Client({ connectionString: db.url });
    await state.pg.connect();
    const user = { username, password: 'correct horse battery' };
    await context.api('POST', '/auth/register', user);
    token = (await context.api('POST', '/auth/login', user)).json.access_token as string;
  }, 120_000);

  afterAll(async () => {
    for (const agent of agents) agent.child.kill('SIGKILL');
    server?.child.kill('SIGCONT'); // a test that failed while the server was paused must not hang its stop
    await Promise.all(agents.map((agent) => agent.exited));
    await state.pg?.end();
    await server?.stop();
    await db?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  return context;
}
