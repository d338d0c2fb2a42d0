import { testConfig, TestConfig } from './config';
import { migratedTemplate } from './pglite-template';
import { createTestDatabase, TestDatabase } from './postgres';

export type TestDatabaseKind = 'postgres' | 'pglite';

/** Both databases the service runs on, as `describe.each` rows: [display name, kind]. */
export const BOTH_DATABASES = [
  ['PostgreSQL', 'postgres'],
  ['PGlite', 'pglite'],
] as const;

/** `describe.each` over both databases; `%s` in the title becomes "PostgreSQL" or "PGlite". */
export function describeEachDatabase(title: string, body: (database: TestDatabaseKind) => void): void {
  describe.each(BOTH_DATABASES)(title, (_name, database) => body(database));
}

export interface TestEnv extends TestConfig {
  /** The private PostgreSQL database, or undefined on PGlite (which lives in DATA_DIR). */
  db: TestDatabase | undefined;
  /** Drops the database and removes DATA_DIR; call it after whatever used them is closed. */
  dispose(): Promise<void>;
}

/**
 * A config on a private database of the given kind: a fresh PostgreSQL database, or PGlite in the config's
 * own temporary DATA_DIR. Every migration is applied already (copied from a template), so the app's boot
 * finds nothing to migrate; `migrated: false` gives an empty database, for a test of migrating or of a
 * first start.
 */
export async function createTestEnv(
  database: TestDatabaseKind = 'postgres',
  env: Record<string, string | undefined> = {},
  { migrated = true } = {},
): Promise<TestEnv> {
  const db = database === 'pglite' ? undefined : await createTestDatabase({ migrated });
  const embeddedTemplate = !db && migrated ? await migratedTemplate() : undefined;
  let config: TestConfig;
  try {
    config = testConfig({ ...(db ? { DATABASE_URL: db.url } : {}), ...env }, embeddedTemplate);
  } catch (error) {
    await db?.drop();
    throw error;
  }
  return {
    ...config,
    db,
    dispose: async () => {
      await db?.drop();
      config.cleanup();
    },
  };
}
