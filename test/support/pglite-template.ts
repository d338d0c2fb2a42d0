import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { loadDatabaseSettings } from '../../src/config/load-config';
import { DataSourceSettings, embeddedDataDir } from '../../src/database/data-source.factory';
import { applyMigrations, migrationsKey } from './migrations';

const ROOT = join(__dirname, '../..');
const CACHE = join(ROOT, 'node_modules/.cache');
/** Written last into a finished template: a directory without it is not one. */
const COMPLETE = 'vcp-template-complete';

function pgliteVersion(): string {
  const manifest = join(ROOT, 'node_modules/@electric-sql/pglite/package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/**
 * A freshly created PGlite cluster, made once per PGlite version and shared by the test runs of this install:
 * in node_modules/.cache (which `npm ci` empties, and no temp-dir cleaner prunes file by file). Made in a
 * directory of its own and renamed into place, so a half-made one is never used; two workers that both find
 * none each make one and the second rename loses (its copy is removed).
 */
function template(): string {
  const path = join(CACHE, `vcp-test-pglite-${pgliteVersion()}`);
  if (existsSync(join(path, COMPLETE))) return path;
  mkdirSync(CACHE, { recursive: true });
  const building = mkdtempSync(join(CACHE, 'vcp-test-pglite-building-'));
  // PGlite is ESM-only and its creation async: made by a child process, so that testConfig stays synchronous.
  execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { PGlite } from '@electric-sql/pglite';
       const db = await PGlite.create({ dataDir: process.argv[1] });
       await db.close();`,
      building,
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return publish(building, path);
}

/** Marks a cluster made in `building` complete and renames it to `path`; a second maker's rename loses. */
function publish(building: string, path: string): string {
  writeFileSync(join(building, COMPLETE), '');
  try {
    renameSync(building, path);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    if (!existsSync(join(path, COMPLETE))) throw error;
  }
  return path;
}

/**
 * The template with every migration applied by the server's own data source, for tests that boot the app
 * (useTestApp): the app finds nothing to migrate, ~0.5–1.3 s less per boot. Keyed by the migrations' source,
 * so a changed or added migration makes a new one (and older ones are removed). Tests of migrations and of a
 * first start keep the empty template.
 */
export async function migratedTemplate(): Promise<string> {
  const prefix = `vcp-test-pglite-${pgliteVersion()}-migrated-`;
  const path = join(CACHE, `${prefix}${migrationsKey()}`);
  if (existsSync(join(path, COMPLETE))) return path;
  // First: it makes the cache directory on a fresh install (`npm ci` leaves none), which mkdtemp needs.
  const source = template();
  const building = mkdtempSync(join(CACHE, 'vcp-test-pglite-building-'));
  try {
    const cluster = join(building, 'pgdata');
    cpSync(source, cluster, { recursive: true, filter: (file) => !file.endsWith(COMPLETE) });
    await applyMigrations(loadDatabaseSettings({ ENVIRONMENT: 'test', DATA_DIR: building }));
    publish(cluster, path);
  } finally {
    // A failed migration leaves no half-made cluster behind in the cache.
    rmSync(building, { recursive: true, force: true });
  }
  for (const stale of readdirSync(CACHE).filter(
    (name) => name.startsWith(prefix) && join(CACHE, name) !== path,
  ))
    rmSync(join(CACHE, stale), { recursive: true, force: true });
  return path;
}

/**
 * Puts a new, empty PGlite cluster where the server will look for the config's embedded database: a copy of
 * the shared template. Creating a cluster (PGlite's initdb) takes ~8–10 s of CPU on this machine, copying one
 * ~0.5 s, and the suite boots dozens. The server migrates the copy at boot exactly as it would a cluster it had
 * created itself; its own first start on an empty DATA_DIR stays covered where a test makes its own directory
 * (test/e2e/server-process.spec.ts).
 */
export function seedEmbeddedDatabase(config: Pick<DataSourceSettings, 'core'>, from = template()): void {
  const target = embeddedDataDir(config);
  // A DATA_DIR a test passed in may hold a database already: never write over one.
  if (existsSync(target)) return;
  cpSync(from, target, { recursive: true, filter: (path) => !path.endsWith(COMPLETE) });
}

/**
 * The same for a DATA_DIR a test hands to a server process (test/support/server-process.ts) whose first start
 * on an empty directory is not what it tests: the process skips PGlite's initdb (~8–10 s of CPU).
 */
export function seedDataDir(dataDir: string): string {
  seedEmbeddedDatabase({ core: { dataDir } });
  return dataDir;
}
