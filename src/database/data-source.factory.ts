import { makeDirectories } from '../common/fs/make-directories';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { DataSource, DataSourceOptions, Migration, MigrationExecutor } from 'typeorm';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { MIGRATIONS } from '../../migrations';
import type { CoreConfig } from '../common/config/core.config';
import type { DatabaseConfig } from './database.config';
import { acquireMigrationLock, releaseMigrationLock } from './migration-lock';
import { TypeOrmLogAdapter } from './typeorm-logger';
import { openEmbeddedPostgres, PGliteHandle } from './embedded-postgres';

function commonOptions(migrationsRun: boolean) {
  return {
    type: 'postgres' as const,
    migrations: MIGRATIONS,
    migrationsRun,
    migrationsTransactionMode: 'each' as const,
    // The schema is owned by migrations/ alone; never let the ORM alter tables.
    synchronize: false,
    logging: ['error', 'warn', 'migration'],
    logger: new TypeOrmLogAdapter(),
    maxQueryExecutionTime: 1000,
  } satisfies Partial<PostgresConnectionOptions>;
}

/** A DataSource on the embedded database that also closes PGlite once TypeORM has let go of it. */
export class EmbeddedDataSource extends DataSource {
  constructor(
    options: DataSourceOptions,
    private readonly pglite: PGliteHandle,
  ) {
    super(options);
  }

  override async destroy(): Promise<void> {
    try {
      if (this.isInitialized) await super.destroy();
    } finally {
      await this.pglite.close();
    }
  }
}

/**
 * A DataSource on a PostgreSQL server whose migrations take turns across processes: every replica runs the
 * pending migrations as it boots, and two running them at once on a fresh database collide (the second's
 * CREATE TABLE meets the first's uncommitted one). The migrations run on one connection that holds a
 * session-level advisory lock, so a replica that waited finds them applied; it waits at most
 * DB_MIGRATION_LOCK_TIMEOUT_SECS. (PGlite needs none: one process holds its DATA_DIR.)
 */
export class PostgresDataSource extends DataSource {
  constructor(
    options: DataSourceOptions,
    private readonly migrationLockTimeoutMs: number,
  ) {
    super(options);
  }

  override async runMigrations(options?: Parameters<DataSource['runMigrations']>[0]): Promise<Migration[]> {
    return this.underMigrationLock(options, (executor) => executor.executePendingMigrations());
  }

  /** `migration:revert` takes the same lock: a revert racing a replica's migrations would undo under it. */
  override async undoLastMigration(options?: Parameters<DataSource['undoLastMigration']>[0]): Promise<void> {
    await this.underMigrationLock(options, (executor) => executor.undoLastMigration());
  }

  private async underMigrationLock<T>(
    options: { transaction?: 'all' | 'none' | 'each'; fake?: boolean } | undefined,
    work: (executor: MigrationExecutor) => Promise<T>,
  ): Promise<T> {
    const runner = this.createQueryRunner();
    // The lock's wait and a migration's statements may take longer than DB_QUERY_TIMEOUT_SECS: not bounded here.
    const restoreQueryTimeout = withoutQueryTimeout(await runner.connect());
    try {
      // Session-level, not per transaction: migrations run one transaction each ('each'), all under the lock.
      await acquireMigrationLock(runner, this.migrationLockTimeoutMs);
      try {
        const executor = new MigrationExecutor(this, runner);
        executor.transaction = options?.transaction ?? this.options.migrationsTransactionMode ?? 'all';
        executor.fake = options?.fake ?? false;
        return await work(executor);
      } finally {
        await releaseMigrationLock(runner);
      }
    } finally {
      restoreQueryTimeout();
      await runner.release();
    }
  }
}

/**
 * Lifts the pool's `query_timeout` from one pg client (pg reads it from the client's connection parameters at
 * each query); the returned function puts it back before the client returns to the pool.
 */
function withoutQueryTimeout(client: unknown): () => void {
  const parameters = (client as { connectionParameters?: { query_timeout?: number } }).connectionParameters;
  if (!parameters) return () => undefined;
  const saved = parameters.query_timeout;
  parameters.query_timeout = 0;
  return () => {
    parameters.query_timeout = saved;
  };
}

/**
 * How this process's connections are named in pg_stat_activity (and PostgreSQL's logs): which replica holds
 * which connection, when several run on one database. PostgreSQL keeps 63 bytes of it.
 */
export const POSTGRES_APPLICATION_NAME = `vcp ${hostname()} pid ${process.pid}`.slice(0, 63);

/** What a data source is built from (AppConfig has both parts). */
export interface DataSourceSettings {
  readonly database: DatabaseConfig;
  readonly core: Pick<CoreConfig, 'dataDir'>;
}

export function embeddedDataDir(settings: Pick<DataSourceSettings, 'core'>): string {
  return join(settings.core.dataDir, 'pgdata');
}

const EMBEDDED_PGLITE = Symbol('vcp.embeddedPglite');
const MIGRATION_LOCK_TIMEOUT_MS = Symbol('vcp.migrationLockTimeoutMs');

/**
 * PostgreSQL when DATABASE_URL is set, else embedded PGlite in DATA_DIR. Both go through the same `pg`
 * driver, so type parsing and query results are identical; PGlite's pg adapter has a single session, so its
 * pool is one client: TypeORM query runners then take turns and transactions cannot interleave.
 */
export async function buildDataSourceOptions(
  settings: DataSourceSettings,
  { migrationsRun = true }: { migrationsRun?: boolean } = {},
): Promise<DataSourceOptions> {
  const { database } = settings;
  if (database.url) {
    const extra = {
      max: database.maxConnections,
      connectionTimeoutMillis: database.connectionTimeoutMs,
      idleTimeoutMillis: 30_000,
      // A PostgreSQL that stops answering (frozen, or a path that drops packets) gives no error and no reset:
      // without a bound, a request holding a connection would wait for it as long as TCP does.
      query_timeout: database.queryTimeoutMs,
    };
    Object.defineProperty(extra, MIGRATION_LOCK_TIMEOUT_MS, {
      value: database.migrationLockTimeoutMs,
      enumerable: false,
    });
    return {
      ...commonOptions(migrationsRun),
      url: database.url,
      applicationName: POSTGRES_APPLICATION_NAME,
      extra,
    };
  }
  const dataDir = embeddedDataDir(settings);
  // DATA_DIR for the lock; the data dir itself is made whole by openEmbeddedPostgres (or refused if a file).
  makeDirectories(dirname(dataDir), 0o700);
  const { pglite, pgConfig } = await openEmbeddedPostgres(dataDir, database.embeddedSharedBuffersMb);
  const extra = {
    ...pgConfig,
    max: 1,
    // Never close the only client: its connection object is PGlite's single session.
    idleTimeoutMillis: 0,
    connectionTimeoutMillis: database.connectionTimeoutMs,
  };
  // Non-enumerable, so it rides along with the options without being handed to the pg pool.
  Object.defineProperty(extra, EMBEDDED_PGLITE, { value: pglite, enumerable: false });
  return {
    ...commonOptions(migrationsRun),
    // Installing uuid-ossp fails on PGlite and is not needed: gen_random_uuid() is built in.
    installExtensions: false,
    extra,
  };
}

/** The DataSource for options made by buildDataSourceOptions (an embedded one closes PGlite on destroy). */
export function dataSourceFromOptions(options: DataSourceOptions): DataSource {
  const extra = options.extra as Record<symbol, unknown> | undefined;
  const pglite = extra?.[EMBEDDED_PGLITE] as PGliteHandle | undefined;
  if (pglite) return new EmbeddedDataSource(options, pglite);
  return new PostgresDataSource(
    options,
    (extra?.[MIGRATION_LOCK_TIMEOUT_MS] as number | undefined) ?? 300_000,
  );
}

export async function createDataSource(
  settings: DataSourceSettings,
  options: { migrationsRun?: boolean } = {},
): Promise<DataSource> {
  return dataSourceFromOptions(await buildDataSourceOptions(settings, options));
}
