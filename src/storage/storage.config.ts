import { join } from 'node:path';
import { defineFeatureConfig } from '../common/config/feature-config';
import { resolvePath } from '../common/config/values';
import { IntVariable, TextVariable } from '../common/config/variables';

export class StorageVariables {
  @IntVariable(0, Number.MAX_SAFE_INTEGER)
  CONTENT_CACHE_MAX_BYTES?: number;

  @TextVariable({ maxLength: 4096 })
  CONTENT_CACHE_DIR?: string;
}

/** The local cache of shared content (used only on PostgreSQL, where the content lives in the database). */
export class StorageConfig {
  /** Each namespace's cache is `<cacheDir>/<namespace>`. */
  readonly cacheDir!: string;
  /** Bytes each namespace's cache may keep on disk; 0 turns the cache off. */
  readonly cacheMaxBytes!: number;

  constructor(values: StorageConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

const cacheDir = (env: StorageVariables, dataDir: string, cwd: string): string =>
  resolvePath(env.CONTENT_CACHE_DIR ?? join(dataDir, 'content-cache'), cwd);

export const storageConfig = defineFeatureConfig({
  token: StorageConfig,
  schema: StorageVariables,
  // The cache is made only on PostgreSQL (the embedded database's content lives in files already).
  directories: (env, { core, cwd, raw }) =>
    raw.DATABASE_URL?.trim()
      ? [
          {
            variable: 'CONTENT_CACHE_DIR',
            path: cacheDir(env, core.dataDir, cwd),
            write: true,
            isDefault: env.CONTENT_CACHE_DIR === undefined,
          },
        ]
      : [],
  build: (env, { core, cwd }) =>
    new StorageConfig({
      cacheDir: cacheDir(env, core.dataDir, cwd),
      cacheMaxBytes: env.CONTENT_CACHE_MAX_BYTES ?? 512 * 1024 * 1024,
    }),
});
