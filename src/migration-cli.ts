// First: an unsupported Node gets a sentence, not a stack from the first dependency it cannot load.
import './common/runtime/require-supported-node';
import { loadConfig } from './config/load-config';
import { createDataSource } from './database/data-source.factory';

/** `npm run migration:run` / `migration:revert`, on PostgreSQL or the embedded database, like the app. */
async function main(command: string | undefined): Promise<void> {
  if (command !== 'run' && command !== 'revert' && command !== 'show') {
    console.error('usage: migration-cli <run|revert|show>');
    process.exitCode = 2;
    return;
  }
  const dataSource = await createDataSource(loadConfig(), { migrationsRun: false });
  await dataSource.initialize();
  try {
    if (command === 'run') {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      console.log(
        applied.length ? applied.map((m) => `applied ${m.name}`).join('\n') : 'no pending migrations',
      );
    } else if (command === 'revert') {
      const [{ exists }] = await dataSource.query<{ exists: boolean }[]>(
        `SELECT to_regclass('public.migrations') IS NOT NULL AS exists`,
      );
      const [last] = exists
        ? await dataSource.query<{ name: string }[]>(`SELECT name FROM migrations ORDER BY id DESC LIMIT 1`)
        : [];
      await dataSource.undoLastMigration({ transaction: 'each' });
      console.log(last ? `reverted ${last.name}` : 'nothing to revert');
    } else {
      const pending = await dataSource.showMigrations();
      console.log(pending ? 'there are pending migrations' : 'all migrations applied');
    }
  } finally {
    await dataSource.destroy();
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
