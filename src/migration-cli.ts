// First: an unsupported Node gets a sentence, not a stack from the first dependency it cannot load.
import './common/runtime/require-supported-node';
import { Logger } from '@nestjs/common';
import { EX_CONFIG, SettingsError } from './common/config/problems';
import { loadDatabaseSettings } from './config/load-config';
import type { DataSource } from 'typeorm';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS } from '../migrations';
import { createDataSource, embeddedDataDir } from './database/data-source.factory';

/** `show` with migrations not yet applied: a deploy step can wait for `run` (exit 0: all applied). */
const EXIT_PENDING = 3;

/**
 * `npm run migration:run` / `migration:revert` / `migration:show`, on PostgreSQL or the embedded database, like
 * the app. Only the database settings are read (a migration job needs none of the app's secrets).
 */
async function main(command: string | undefined): Promise<void> {
  if (command !== 'run' && command !== 'revert' && command !== 'show') {
    console.error('usage: migration-cli <run|revert|show>');
    process.exitCode = 2;
    return;
  }
  // No app here, so Nest's console logger keeps its own default of every level, debug included: it printed the
  // debug lines the server drops at its default LOG_LEVEL=info (such as TypeORM's failed lock wait, which
  // MigrationLockTimeoutError then says plainly). The CLI prints what a server start would.
  Logger.overrideLogger(['fatal', 'error', 'warn', 'log']);
  const settings = loadDatabaseSettings();
  // An embedded database not made yet is not made by a look at it: every migration is pending, none to revert.
  if (
    command !== 'run' &&
    !settings.database.url &&
    !existsSync(join(embeddedDataDir(settings), 'PG_VERSION'))
  ) {
    if (command === 'revert') return console.log('nothing to revert (no embedded database in DATA_DIR yet)');
    console.log(
      inApplyOrder(MIGRATIONS.map((Migration) => new Migration().name ?? Migration.name))
        .map((name) => `pending ${name}`)
        .join('\n'),
    );
    process.exitCode = EXIT_PENDING;
    return;
  }
  const dataSource = await createDataSource(settings, { migrationsRun: false });
  await dataSource.initialize();
  try {
    if (command === 'run') {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      console.log(
        applied.length ? applied.map((m) => `applied ${m.name}`).join('\n') : 'no pending migrations',
      );
    } else if (command === 'revert') {
      const [last] = (await migrationsTableExists(dataSource))
        ? await dataSource.query<{ name: string }[]>(`SELECT name FROM migrations ORDER BY id DESC LIMIT 1`)
        : [];
      await dataSource.undoLastMigration({ transaction: 'each' });
      console.log(last ? `reverted ${last.name}` : 'nothing to revert');
    } else {
      // Asked first, so a fresh database is not a failed query (logged as a warning) and a real failure is not
      // taken for "nothing applied".
      const rows = (await migrationsTableExists(dataSource))
        ? await dataSource.query<{ name: string }[]>(`SELECT name FROM migrations`)
        : [];
      const applied = new Set(rows.map((row) => row.name));
      const pending = inApplyOrder(
        dataSource.migrations.map((m) => m.name ?? m.constructor.name).filter((n) => !applied.has(n)),
      );
      console.log(
        pending.length ? pending.map((name) => `pending ${name}`).join('\n') : 'all migrations applied',
      );
      if (pending.length) process.exitCode = EXIT_PENDING;
    }
  } finally {
    await dataSource.destroy();
  }
}

/** The order `run` applies them in: TypeORM sorts by each name's last 13 characters, not the list's order. */
function inApplyOrder(names: string[]): string[] {
  const timestamp = (name: string) => parseInt(name.slice(-13), 10);
  return [...names].sort((a, b) => timestamp(a) - timestamp(b));
}

async function migrationsTableExists(dataSource: DataSource): Promise<boolean> {
  const [{ exists }] = await dataSource.query<{ exists: boolean }[]>(
    `SELECT to_regclass('public.migrations') IS NOT NULL AS exists`,
  );
  return exists;
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = error instanceof SettingsError ? EX_CONFIG : 1; // as the server
});
