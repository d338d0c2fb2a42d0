import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { loadDatabaseSettings } from '../../src/config/load-config';
import { applyMigrations, migrationsKey } from './migrations';

export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Runs `fn` on a connection of the admin URL (the test server's superuser), closed after. */
export async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

const TEMPLATE_PREFIX = 'vcp_test_template_';
let migratedTemplateName: Promise<string> | undefined;

/**
 * A database with every migration applied by the server's own data source, named by the migrations' source
 * and made once per server (per changed migrations): tests that boot the app copy it (CREATE DATABASE ...
 * TEMPLATE) instead of migrating their own. Made under a name of its own and renamed into place, so a
 * half-made one is never copied; of two test workers that make it at once, the second's rename loses.
 */
function migratedTemplate(): Promise<string> {
  migratedTemplateName ??= (async () => {
    const name = `${TEMPLATE_PREFIX}${migrationsKey()}`;
    const exists = await admin((c) => c.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name]));
    if (exists.rowCount) return name;
    const building = `vcp_test_building_${randomBytes(6).toString('hex')}`;
    await admin((c) => c.query(`CREATE DATABASE ${building}`));
    try {
      await applyMigrations(
        loadDatabaseSettings({ ENVIRONMENT: 'test', DATABASE_URL: databaseUrl(building) }),
      );
      await admin((c) => c.query(`ALTER DATABASE ${building} RENAME TO ${name}`));
    } catch (error) {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`));
      const made = await admin((c) => c.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name]));
      if (!made.rowCount) throw error;
    }
    // Templates of older migrations; one being copied right now (another checkout's run) is left alone.
    const stale = await admin((c) =>
      c.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE '${TEMPLATE_PREFIX}%' AND datname <> $1`,
        [name],
      ),
    );
    for (const { datname } of stale.rows)
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${datname}`)).catch(() => undefined);
    return name;
  })();
  return migratedTemplateName;
}

/**
 * A fresh database on the real PostgreSQL server, private to one test file: a copy of one every migration was
 * applied to, so a boot finds nothing to migrate; `migrated: false` gives an empty one, for a test of
 * migrating, of a first start or of a restore.
 */
export async function createTestDatabase({ migrated = true } = {}): Promise<TestDatabase> {
  const name = `vcp_test_${randomBytes(6).toString('hex')}`;
  const template = migrated ? ` TEMPLATE ${await migratedTemplate()}` : '';
  await admin((c) => c.query(`CREATE DATABASE ${name}${template}`));
  return {
    url: databaseUrl(name),
    name,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
