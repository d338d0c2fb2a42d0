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

export const storageConfig = defineFeatureConfig({
  token: StorageConfig,
  schema: StorageVariables,
  build: (env, { core, cwd }) =>
    new StorageConfig({
      cacheDir: resolvePath(env.CONTENT_CACHE_DIR ?? join(core.dataDir, 'content-cache'), cwd),
      cacheMaxBytes: env.CONTENT_CACHE_MAX_BYTES ?? 512 * 1024 * 1024,
    }),
});
