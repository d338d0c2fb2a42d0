import { Global, Module } from '@nestjs/common';
import { TypeOrmModule, TypeOrmModuleOptions } from '@nestjs/typeorm';
import { DataSourceOptions } from 'typeorm';
import { CoreConfig } from '../common/config/core.config';
import { DatabaseClock } from './database-clock';
import { buildDataSourceOptions, dataSourceFromOptions } from './data-source.factory';
import { DatabaseConfig } from './database.config';
import { EmbeddedDurabilityWarning } from './embedded-durability';
import { EmbeddedVacuum } from './embedded-vacuum';
import { MigrationLockTimeoutError } from './migration-lock';
import { DatabaseSession, TransactionRunner } from './transaction-runner';

async function initialize(options: DataSourceOptions) {
  const dataSource = dataSourceFromOptions(options);
  try {
    return await dataSource.initialize();
  } catch (error) {
    await dataSource.destroy().catch(() => undefined); // releases the embedded database and its lock
    throw error;
  }
}

/**
 * The database connection; pending migrations run while the DataSource initialises, before the app listens.
 * Repositories query through DatabaseSession; services group repository calls with TransactionRunner.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [DatabaseConfig, CoreConfig],
      useFactory: async (database: DatabaseConfig, core: CoreConfig): Promise<TypeOrmModuleOptions> => ({
        ...(await buildDataSourceOptions({ database, core })),
        // A PostgreSQL server may still be starting when we boot; an embedded database either opens or not.
        retryAttempts: database.url ? 5 : 0,
        retryDelay: 2000,
        // Waiting again would double DB_MIGRATION_LOCK_TIMEOUT_SECS, the bound the operator set on that wait.
        toRetry: (error: unknown) => !(error instanceof MigrationLockTimeoutError),
      }),
      dataSourceFactory: (options?: DataSourceOptions) => initialize(options!),
    }),
  ],
  providers: [DatabaseSession, TransactionRunner, DatabaseClock, EmbeddedVacuum, EmbeddedDurabilityWarning],
  exports: [DatabaseSession, TransactionRunner, DatabaseClock],
})
export class DatabaseModule {}
