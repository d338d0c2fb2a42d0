import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from '../../src/config/app-config';
import { embeddedDataDir } from '../../src/database/data-source.factory';

const ROOT = join(__dirname, '../..');
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
  const cache = join(ROOT, 'node_modules/.cache');
  const path = join(cache, `vcp-test-pglite-${pgliteVersion()}`);
  if (existsSync(join(path, COMPLETE))) return path;
  mkdirSync(cache, { recursive: true });
  const building = mkdtempSync(join(cache, 'vcp-test-pglite-building-'));
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
 * Puts a new, empty PGlite cluster where the server will look for the config's embedded database: a copy of
 * the shared template. Creating a cluster (PGlite's initdb) takes ~8–10 s of CPU on this machine, copying one
 * ~0.5 s, and the suite boots dozens. The server migrates the copy at boot exactly as it would a cluster it had
 * created itself; its own first start on an empty DATA_DIR stays covered where a test makes its own directory
 * (test/e2e/server-process.spec.ts).
 */
export function seedEmbeddedDatabase(config: AppConfig): void {
  const target = embeddedDataDir(config);
  // A DATA_DIR a test passed in may hold a database already: never write over one.
  if (existsSync(target)) return;
  cpSync(template(), target, { recursive: true, filter: (path) => !path.endsWith(COMPLETE) });
}
