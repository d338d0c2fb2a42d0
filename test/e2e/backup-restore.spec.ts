import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { bytes, call, dumpAndRestore, filesIn, login, ok, pgTool, run } from '../support/backup';
import { eventually } from '../support/eventually';
import { createTestDatabase, TestDatabase } from '../support/postgres';
import { seedDataDir } from '../support/pglite-template';
import { runServerToExit, ServerProcess, startServer } from '../support/server-process';
import { ORIGINAL_NODE, uniqueNodeId } from '../support/nodes';
import { fixture, sha256 } from '../support/wasm';
import { circuitPayload, zkFixture } from '../support/zk';

const VERIFY_RECEIPT = join(__dirname, '../../dist/src/receipts/verify-receipt.js');
const ADMIN = { username: 'backupadmin', password: 'a backup admin password' };
const ALICE = { username: 'alice', password: 'correct horse battery' };
const ECHO = fixture('echo');
const CIRCUIT = zkFixture('multiplier', 'groth16');

/** Submits `6*7` (or `task`) to one node and waits (generously: a loaded 2-core machine) until it completes. */
async function completedTask(
  port: number,
  token: string,
  task: Record<string, unknown> = {
    task_type: 'computation',
    inputs: { program: 'expression', expression: '6*7' },
  },
): Promise<Record<string, unknown>> {
  const { task_id } = await ok<{ task_id: string }>(
    call(port, 'POST', '/tasks', {
      token,
      json: { ...task, requirements: { min_nodes: 1, max_execution_time_sec: 60 } },
    }),
    201,
  );
  return eventually(
    async () => {
      const task = await ok<Record<string, unknown>>(call(port, 'GET', `/tasks/${task_id}`, { token }));
      expect(task.status).toBe('completed');
      return task;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
}

/** What a user made before the backup, as the server answered then. */
interface Before {
  apiKey: string;
  nodeKey: string;
  token: string;
  refreshToken: string;
  moduleId: string;
  circuitId?: string;
  task: Record<string, unknown>;
  receipt: unknown;
  publicKey: string;
}

async function populate(port: number, withCircuit: boolean): Promise<Before> {
  const { api_key: apiKey } = await ok<{ api_key: string }>(
    call(port, 'POST', '/auth/register', { json: ALICE }),
    201,
  );
  const { access_token: token, refresh_token: refreshToken } = await login(port, ALICE);
  const { module_id: moduleId } = await ok<{ module_id: string }>(
    call(port, 'POST', '/modules', { token, wasm: ECHO }),
    201,
  );
  const { node_api_key: nodeKey } = await ok<{ node_api_key: string }>(
    call(port, 'POST', '/nodes', { token, json: { ...ORIGINAL_NODE, node_id: uniqueNodeId() } }),
    201,
  );
  let circuitId: string | undefined;
  if (withCircuit) {
    const admin = (await login(port, ADMIN)).access_token;
    const payload = circuitPayload('multiplier', 'groth16', { wasm: true, zkey: true });
    circuitId = (
      await ok<{ circuit_id: string }>(
        call(port, 'POST', '/admin/circuits', { token: admin, json: payload }),
        201,
      )
    ).circuit_id;
  }
  const task = await completedTask(port, token);
  const receipt = await ok(call(port, 'GET', `/tasks/${String(task.task_id)}/receipt`, { token }));
  const { public_key: publicKey } = await ok<{ public_key: string }>(
    call(port, 'GET', '/receipts/public-key'),
  );
  return { apiKey, nodeKey, token, refreshToken, moduleId, circuitId, task, receipt, publicKey };
}

/** The receipt checked offline by the built CLI, its server key pinned to `publicKey`. */
function verifyReceipt(
  dir: string,
  receipt: unknown,
  publicKey: string,
): { status: number | null; stdout: string } {
  const file = join(dir, 'receipt.json');
  writeFileSync(file, JSON.stringify(receipt));
  const run = spawnSync(process.execPath, [VERIFY_RECEIPT, file, '--public-key', publicKey], {
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout };
}

/** Everything made before the backup reads back the same from the restored copy, and new work completes. */
async function expectRestored(port: number, before: Before, scratch: string): Promise<void> {
  // The password, the old access and refresh tokens and the old API key all still work: same secrets.
  const token = (await login(port, ALICE)).access_token;
  const taskId = String(before.task.task_id);
  expect(await ok(call(port, 'GET', `/tasks/${taskId}`, { token: before.token }))).toEqual(before.task);
  await ok(call(port, 'POST', '/auth/refresh', { json: { refresh_token: before.refreshToken } }));
  expect(await ok(call(port, 'GET', `/modules/${before.moduleId}`, { apiKey: before.apiKey }))).toMatchObject(
    {
      module_id: before.moduleId,
    },
  );

  // A node key (an agent's credential) still works too: a node downloads the module of a run it leased.
  const download = call(port, 'GET', `/modules/${before.moduleId}/download`, { apiKey: before.nodeKey });
  expect(await bytes(download)).toEqual(ECHO);
  if (before.circuitId) {
    expect(await bytes(call(port, 'GET', `/circuits/${before.circuitId}/wasm`, { token }))).toEqual(
      CIRCUIT.wasm,
    );
    expect(await bytes(call(port, 'GET', `/circuits/${before.circuitId}/zkey`, { token }))).toEqual(
      CIRCUIT.zkey,
    );
  }

  // The receipt is signed as it is read (`issued_at` is then): the same content, signed by the same key.
  type Signed = { receipt: { issued_at: string }; signature: string };
  const unsigned = ({ receipt: { issued_at: _issued, ...rest } }: Signed) => rest;
  const receipt = await ok<Signed>(call(port, 'GET', `/tasks/${taskId}/receipt`, { token }));
  expect(unsigned(receipt)).toEqual(unsigned(before.receipt as Signed));
  expect(await ok(call(port, 'GET', '/receipts/public-key'))).toMatchObject({ public_key: before.publicKey });
  for (const signed of [before.receipt, receipt]) {
    const check = verifyReceipt(scratch, signed, before.publicKey);
    expect(check.stdout).toMatch(/all \d+ checks hold/);
    expect(check.status).toBe(0);
  }

  expect((await completedTask(port, token)).result).toMatchObject({ result: 42 });
}

async function withClient<T>(url: string, use: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return await use(db);
  } finally {
    await db.end();
  }
}

/** README, "Backup and restore", followed step by step on a copy made elsewhere. */
describe('backup and restore', () => {
  let scratch: string;
  let server: ServerProcess | undefined;
  beforeEach(() => (scratch = mkdtempSync(join(tmpdir(), 'vcp-backup-'))));
  afterEach(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) await server.stop();
    server = undefined;
    rmSync(scratch, { recursive: true, force: true });
  });

  const common = { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password, EMBEDDED_NODE: 'on' };

  describe('on PostgreSQL', () => {
    const databases: TestDatabase[] = [];
    afterAll(() => Promise.all(databases.map((db) => db.drop())));

    const dirs = (root: string) => ({
      DATA_DIR: join(root, 'data'),
      WASM_ALLOWED_ROOTS: join(root, 'modules'),
      CIRCUIT_STORAGE_DIR: join(root, 'circuits'),
    });
    /** Not a skip of the whole file: the embedded default below needs no client tools. */
    const noClientTools = () => {
      if (pgTool('pg_dump') && pgTool('pg_restore')) return false;
      console.warn(
        'pg_dump or pg_restore not found in /usr/bin or /usr/local/bin: the PostgreSQL part is not run',
      );
      return true;
    };
    /** The deployment to back up: a database to restore into, and a server that populated the first and stopped. */
    const populatedAndStopped = async () => {
      // Empty: the original is made by the server's first start, the copy by the restore.
      const [original, restored] = [
        await createTestDatabase({ migrated: false }),
        await createTestDatabase({ migrated: false }),
      ];
      databases.push(original, restored);
      const old = dirs(join(scratch, 'old'));
      server = await startServer({ ...common, ...old, DATABASE_URL: original.url });
      const before = await populate(server.port, true);
      expect((await server.stop()).code).toBe(0);
      return { original, restored, old, before };
    };

    it('restores from pg_dump and the secrets alone: the bytes of modules and circuit files are in the database', async () => {
      if (noClientTools()) return;
      const { original, restored, old, before } = await populatedAndStopped();

      // On PostgreSQL the module and circuit bytes live in the database: the storage directories (read only,
      // for files stored before the switch) hold nothing to copy.
      expect(filesIn(old.WASM_ALLOWED_ROOTS)).toEqual([]);
      expect(filesIn(old.CIRCUIT_STORAGE_DIR)).toEqual([]);

      // The steps: the database, then (development) the generated secrets.
      const fresh = dirs(join(scratch, 'new'));
      dumpAndRestore(original.url, restored.url, join(scratch, 'vcp.dump'));
      cpSync(join(old.DATA_DIR, 'secrets.json'), join(fresh.DATA_DIR, 'secrets.json'));
      rmSync(join(scratch, 'old'), { recursive: true, force: true }); // the machine is lost

      server = await startServer({ ...common, ...fresh, DATABASE_URL: restored.url });
      await expectRestored(server.port, before, scratch);
      expect((await server.stop()).code).toBe(0);
    }, 600_000);

    it('restores files stored before the switch to database storage from the copied directories', async () => {
      if (noClientTools()) return;
      const { original, restored, old, before } = await populatedAndStopped();

      // The deployment as a version before database storage left it: the module and the circuit's files are in
      // the storage directories (their layouts: `<sha256>.wasm`, `<first two hex>/<sha256>`), not in the database.
      const legacy = [
        {
          namespace: 'wasm-modules',
          file: (id: string) => join(old.WASM_ALLOWED_ROOTS, `${id}.wasm`),
          bytes: ECHO,
        },
        ...[CIRCUIT.wasm, CIRCUIT.zkey].map((content) => ({
          namespace: 'circuit-blobs',
          file: (id: string) => join(old.CIRCUIT_STORAGE_DIR, id.slice(0, 2), id),
          bytes: content,
        })),
      ];
      const stored = (url: string) =>
        withClient(
          url,
          async (db) =>
            (
              await db.query<{ n: number }>(
                `SELECT count(*)::int AS n FROM content_objects WHERE (namespace, sha256) IN (($1, $2), ($3, $4), ($5, $6))`,
                legacy.flatMap(({ namespace, bytes: content }) => [namespace, sha256(content)]),
              )
            ).rows[0].n,
        );
      for (const { file, bytes: content } of legacy) {
        mkdirSync(join(file(sha256(content)), '..'), { recursive: true });
        writeFileSync(file(sha256(content)), content);
      }
      await withClient(original.url, (db) =>
        db.query(
          `DELETE FROM content_objects WHERE (namespace, sha256) IN (($1, $2), ($3, $4), ($5, $6))`,
          legacy.flatMap(({ namespace, bytes: content }) => [namespace, sha256(content)]),
        ),
      );

      // The steps: the directories first, then the database and the secrets; all back on a new machine, the
      // directories under other paths (the variables name them).
      const backup = join(scratch, 'backup');
      cpSync(old.WASM_ALLOWED_ROOTS, join(backup, 'modules'), { recursive: true });
      cpSync(old.CIRCUIT_STORAGE_DIR, join(backup, 'circuits'), { recursive: true });
      dumpAndRestore(original.url, restored.url, join(scratch, 'vcp.dump'));
      cpSync(join(old.DATA_DIR, 'secrets.json'), join(backup, 'secrets.json'));
      rmSync(join(scratch, 'old'), { recursive: true, force: true }); // the machine is lost
      const fresh = dirs(join(scratch, 'new'));
      cpSync(join(backup, 'modules'), fresh.WASM_ALLOWED_ROOTS, { recursive: true });
      cpSync(join(backup, 'circuits'), fresh.CIRCUIT_STORAGE_DIR, { recursive: true });
      cpSync(join(backup, 'secrets.json'), join(fresh.DATA_DIR, 'secrets.json'));
      expect(await stored(restored.url)).toBe(0); // read from the files alone

      server = await startServer({ ...common, ...fresh, DATABASE_URL: restored.url });
      await expectRestored(server.port, before, scratch);
      // The restored embedded node runs the module from its file.
      const { access_token: token } = await login(server.port, ALICE);
      const task = await completedTask(server.port, token, {
        task_type: 'wasm_execution',
        module_id: before.moduleId,
        inputs: { restored: 'from a file' },
      });
      expect(task.result).toEqual({ restored: 'from a file' });
      expect((await server.stop()).code).toBe(0);
    }, 600_000);
  });

  describe('on the embedded database', () => {
    it('moves to another directory as a copy of the stopped DATA_DIR', async () => {
      const old = seedDataDir(join(scratch, 'old'));
      server = await startServer({ ...common, DATA_DIR: old });
      const before = await populate(server.port, true);

      // Copied while it runs, the copy names the running server in its lock: a start on it is refused.
      const live = join(scratch, 'live-copy');
      // (A file the running server removes mid-copy fails the copy: try again, as a user would.)
      await eventually(
        () => {
          rmSync(live, { recursive: true, force: true });
          cpSync(old, live, { recursive: true });
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const refused = await runServerToExit({ DATA_DIR: live });
      expect(refused.output).toContain(`is in use by process ${server.child.pid}`);
      expect(refused.code).not.toBe(0);

      expect((await server.stop()).code).toBe(0);
      const moved = join(scratch, 'moved');
      run('cp', ['-a', old, moved]);
      rmSync(old, { recursive: true, force: true });

      server = await startServer({ ...common, DATA_DIR: moved });
      await expectRestored(server.port, before, scratch);
      expect((await server.stop()).code).toBe(0);
    }, 600_000);
  });
});
