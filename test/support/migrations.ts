import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDataSource, DataSourceSettings } from '../../src/database/data-source.factory';

const MIGRATIONS_DIR = join(__dirname, '../../migrations');

/** A short digest of migrations/ (names and contents): names a template database made by exactly these. */
export function migrationsKey(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(MIGRATIONS_DIR).sort()) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(MIGRATIONS_DIR, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** Applies every migration to the database `settings` name, through the server's own data source, as a boot does. */
export async function applyMigrations(settings: DataSourceSettings): Promise<void> {
  const dataSource = await createDataSource(settings);
  try {
    await dataSource.initialize();
  } finally {
    await dataSource.destroy();
  }
}
