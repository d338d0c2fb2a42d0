import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../migrations';
import { runMigrationCli } from '../support/migration-cli';
import { createTestDatabase, TestDatabase } from '../support/postgres';
import { requireBuild } from '../support/server-process';

/** The migration job of a deployment: a production database, none of the app's secrets, a gate on `show`. */
describe('migration CLI (built)', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    requireBuild();
    database = await createTestDatabase({ migrated: false });
  });
  afterAll(() => database.drop());

  const cli = (command: string, env: Record<string, string> = {}) =>
    runMigrationCli(database.url, command, env);

  it('show exits 3 naming what is pending, run applies it, then show exits 0', async () => {
    const before = await cli('show');
    expect(before.code).toBe(3);
    for (const migration of MIGRATIONS) expect(before.out).toContain(`pending ${new migration().name}`);
    // Only the list: a fresh database has no migrations table, which is no failure to warn about.
    expect(before.out.trim().split('\n')).toHaveLength(MIGRATIONS.length);
    const run = await cli('run');
    expect([run.code, run.out]).toEqual([0, expect.stringContaining('applied ')]);
    // Listed in the order `run` applies them (TypeORM's, by timestamp: not the list in migrations/index.ts).
    expect(before.out.replaceAll('pending ', '')).toBe(run.out.replaceAll('applied ', ''));
    expect(await cli('show')).toEqual({ code: 0, out: 'all migrations applied\n' });
  });

  it('on an embedded DATA_DIR with no database yet, show and revert answer without making one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vcp-migration-show-'));
    try {
      const show = await cli('show', { DATABASE_URL: '', DATA_DIR: dataDir });
      expect(show.code).toBe(3);
      const names = MIGRATIONS.map((m) => new m().name);
      const byTimestamp = [...names].sort((a, b) => Number(a.slice(-13)) - Number(b.slice(-13)));
      expect(show.out.trim().split('\n')).toEqual(byTimestamp.map((name) => `pending ${name}`));
      const revert = await cli('revert', { DATABASE_URL: '', DATA_DIR: dataDir });
      expect([revert.code, revert.out]).toEqual([
        0,
        'nothing to revert (no embedded database in DATA_DIR yet)\n',
      ]);
      expect(readdirSync(dataDir)).toEqual([]); // before, a whole embedded database was made for a look
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a bad setting is a configuration error (exit 78) naming the variable', async () => {
    const bad = await cli('show', { DATABASE_URL: 'mysql://nowhere/db' });
    expect(bad.code).toBe(78);
    expect(bad.out).toContain('DATABASE_URL');
  });
});
