import { FactoryProvider, Type } from '@nestjs/common';
import { DatabaseSession, TransactionRunner } from '../database/transaction-runner';
import { ContentRepository } from './content.repository';
import { ContentStore } from './content-store';
import { FsContentStore, FsContentStoreOptions } from './fs-content-store';
import { PgContentStore } from './pg-content-store';
import { StorageConfig } from './storage.config';

/**
 * The ContentStore of one namespace, for a feature module's `providers` (not exported: each module that
 * stores content provides its own namespace under the same token). Roots are created and canonicalised
 * before the app starts; if that fails, the app does not start. The options come from the feature's own
 * config class (`configToken`).
 *
 * On PostgreSQL the content lives in the database (PgContentStore): API replicas share no disk, and an
 * upload on one must be readable on every other. The embedded database means one process on one disk, so
 * it keeps the file system store.
 */
export function provideContentStore<Config>(
  configToken: Type<Config>,
  options: (config: Config) => FsContentStoreOptions,
): FactoryProvider<ContentStore> {
  return {
    provide: ContentStore,
    inject: [configToken, StorageConfig, DatabaseSession, TransactionRunner],
    useFactory: (
      config: Config,
      storage: StorageConfig,
      session: DatabaseSession,
      transactions: TransactionRunner,
    ) =>
      session.singleSession
        ? FsContentStore.create(options(config))
        : PgContentStore.create(options(config), {
            repository: new ContentRepository(session),
            transactions,
            cacheDir: storage.cacheDir,
            cacheMaxBytes: storage.cacheMaxBytes,
          }),
  };
}
