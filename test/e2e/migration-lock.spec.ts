import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { TEST_DEFAULTS } from '../support/config';
import { eventually } from '../support/eventually';
import { runMigrationCli } from '../support/migration-cli';
import { createTestDatabase, TestDatabase } from '../support/postgres';
import { requireBuild, runServerToExit } from '../support/server-process';

const HOLDER = 'migration-lock-holder-test';

/** A start behind a migration lock another session keeps (a stuck replica or job) waits a bounded time. */
describe('the migration lock held by another session (PostgreSQL, built)', () => {
  let database: TestDatabase;
  let holder: Client;
  let holderPid: number;

  beforeAll(async () => {
    requireBuild();
    database = await createTestDatabase({ migrated: false });
    holder = new Client({ connectionString: database.url, application_name: HOLDER });
    await holder.connect();
    holderPid = (await holder.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
  });
  afterAll(async () => {
    await holder?.end();
    await database?.drop();
  });

  const lock = () => holder.query(`SELECT pg_advisory_lock(hashtextextended('vcp.migrations', 0))`);
  const unlock = () => holder.query(`SELECT pg_advisory_unlock(hashtextextended('vcp.migrations', 0))`);

  const cli = (timeoutSecs: number, command = 'run') =>
    runMigrationCli(database.url, command, { DB_MIGRATION_LOCK_TIMEOUT_SECS: String(timeoutSecs) }, 20_000);

  const migrationsTable = async () =>
    (await holder.query<{ exists: boolean }>(`SELECT to_regclass('public.migrations') IS NOT NULL AS exists`))
      .rows[0].exists;

  it('migration:run gives up after DB_MIGRATION_LOCK_TIMEOUT_SECS (exit 1), naming the holding session', async () => {
    await lock();
    try {
      const run = await cli(1);
      expect(run.code).toBe(1);
      expect(run.out).toContain('DB_MIGRATION_LOCK_TIMEOUT_SECS');
      expect(run.out).toContain(`PostgreSQL backend pid ${holderPid} ("${HOLDER}"`);
      // It ends with that line alone: not TypeORM's failed query for the wait (a debug line) beside it.
      const lines = run.out.trim().split('\n');
      expect(lines.at(-1)).toMatch(
        /^the migration lock \(PostgreSQL advisory lock 'vcp.migrations'\) was still held/,
      );
      expect(run.out).not.toContain('query failed');
      expect(run.out).not.toContain('SELECT pg_advisory_lock(');
      expect(await migrationsTable()).toBe(false);
    } finally {
      await unlock();
    }
  });

  it('the server exits 1 the same way, having waited once (no connection retry doubles the bound)', async () => {
    await lock();
    const dataDir = mkdtempSync(join(tmpdir(), 'vcp-migration-lock-'));
    try {
      const { code, output } = await runServerToExit({
        ...TEST_DEFAULTS,
        LOG_LEVEL: 'info',
        DATA_DIR: dataDir,
        DATABASE_URL: database.url,
        DB_MIGRATION_LOCK_TIMEOUT_SECS: '1',
      });
      expect(code).toBe(1);
      expect(output).toContain('startup failed: the migration lock');
      expect(output).toContain(`"${HOLDER}"`);
      expect(output.match(/waiting up to 1 s for the migration lock/g)).toHaveLength(1);
      // The explanation alone: neither TypeORM's failed query nor Nest's report of the error with its stack.
      expect(output).not.toContain('query failed');
      expect(output).not.toContain('    at ');
      expect(output).not.toContain('"level":50');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      await unlock();
    }
  });

  it('a run waiting for the lock proceeds once the holder lets it go (negative control)', async () => {
    await lock();
    const run = cli(60);
    try {
      // The CLI's session waits on the advisory lock: it did not fail nor proceed while it was held.
      await eventually(
        async () => {
          const { rows } = await holder.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
          );
          expect(rows[0].n).toBe(1);
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    } finally {
      await unlock();
    }
    const result = await run;
    expect([result.code, result.out]).toEqual([0, expect.stringContaining('applied ')]);
    expect(result.out).toContain(
      `waiting up to 60 s for the migration lock, held by PostgreSQL backend pid ${holderPid}`,
    );
    expect(await migrationsTable()).toBe(true);
  });

  it('migration:revert waits for the same lock, and reverts nothing while another session holds it', async () => {
    expect((await cli(60)).code).toBe(0);
    const count = async () =>
      (await holder.query<{ n: number }>(`SELECT count(*)::int AS n FROM migrations`)).rows[0].n;
    const applied = await count();
    await lock();
    try {
      const revert = await cli(1, 'revert');
      expect(revert.code).toBe(1);
      expect(revert.out).toContain(`PostgreSQL backend pid ${holderPid} ("${HOLDER}"`);
      expect(await count()).toBe(applied);
    } finally {
      await unlock();
    }
  });
});
