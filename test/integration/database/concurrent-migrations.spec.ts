import { hostname } from 'node:os';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../../migrations';
import { createDataSource } from '../../../src/database/data-source.factory';
import { createTestEnv, TestEnv } from '../../support/databases';

/** Replicas started together on a fresh PostgreSQL database each run the migrations as they boot. */
describe('migrations of two replicas booting at once (PostgreSQL)', () => {
  let env: TestEnv;
  const sources: DataSource[] = [];

  beforeAll(async () => (env = await createTestEnv('postgres', {}, { migrated: false })));
  afterAll(async () => {
    await Promise.all(sources.filter((s) => s.isInitialized).map((source) => source.destroy()));
    await env?.dispose();
  });

  it('both boot without error and apply each migration once', async () => {
    // Each with its own pool, initialised as the app does it (migrationsRun: pending migrations run in initialize).
    sources.push(await createDataSource(env.config), await createDataSource(env.config));
    await Promise.all(sources.map((source) => source.initialize()));

    const [{ n, distinct }] = await sources[0].query<{ n: number; distinct: number }[]>(
      `SELECT count(*)::int AS n, count(DISTINCT name)::int AS distinct FROM migrations`,
    );
    expect({ n, distinct }).toEqual({ n: MIGRATIONS.length, distinct: MIGRATIONS.length });
    for (const source of sources) expect(await source.showMigrations()).toBe(false);
  });

  it('names its connections in pg_stat_activity (which replica holds which connection)', async () => {
    const [{ application_name }] = await sources[0].query<{ application_name: string }[]>(
      `SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()`,
    );
    expect(application_name).toBe(`vcp ${hostname()} pid ${process.pid}`.slice(0, 63));
  });
});
