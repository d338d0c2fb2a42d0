import { defineFeatureConfig } from '../common/config/feature-config';
import { IntVariable } from '../common/config/variables';
import { PostgresUrlVariable } from './postgres-url';

/** See README's Configuration; bench/README.md, "The embedded database's buffer pool", for the measurements. */
export const EMBEDDED_SHARED_BUFFERS_MB = 32;

export class DatabaseVariables {
  @PostgresUrlVariable()
  DATABASE_URL?: string;

  @IntVariable(1, 500)
  DB_MAX_CONNECTIONS?: number;

  @IntVariable(1, 600)
  DB_CONNECTION_TIMEOUT_SECS?: number;

  @IntVariable(1, 3600)
  DB_QUERY_TIMEOUT_SECS?: number;

  @IntVariable(1, 86_400)
  DB_MIGRATION_LOCK_TIMEOUT_SECS?: number;

  @IntVariable(0, 86_400)
  EMBEDDED_VACUUM_INTERVAL_SECS?: number;

  // PGlite's 32-bit WebAssembly memory holds the pool: at 2048 MB it no longer starts.
  @IntVariable(1, 1024)
  EMBEDDED_SHARED_BUFFERS_MB?: number;
}

export class DatabaseConfig {
  /** null → embedded PGlite in DATA_DIR. */
  readonly url!: string | null;
  readonly maxConnections!: number;
  readonly connectionTimeoutMs!: number;
  /**
   * How long a statement of the running service waits for PostgreSQL's answer before it fails (and its
   * connection is closed, not reused); migrations are exempt.
   */
  readonly queryTimeoutMs!: number;
  /** How long a start waits for another session's migration lock before it gives up (PostgreSQL only). */
  readonly migrationLockTimeoutMs!: number;
  /** How often the embedded database is vacuumed and analyzed (it has no autovacuum); 0: never. */
  readonly embeddedVacuumIntervalMs!: number;
  /** The embedded database's buffer pool, in MB (PostgreSQL's `shared_buffers`). */
  readonly embeddedSharedBuffersMb!: number;

  constructor(values: DatabaseConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const databaseConfig = defineFeatureConfig({
  token: DatabaseConfig,
  schema: DatabaseVariables,
  build: (env) =>
    new DatabaseConfig({
      url: env.DATABASE_URL ?? null,
      maxConnections: env.DB_MAX_CONNECTIONS ?? 10,
      connectionTimeoutMs: (env.DB_CONNECTION_TIMEOUT_SECS ?? 30) * 1000,
      queryTimeoutMs: (env.DB_QUERY_TIMEOUT_SECS ?? 30) * 1000,
      migrationLockTimeoutMs: (env.DB_MIGRATION_LOCK_TIMEOUT_SECS ?? 300) * 1000,
      embeddedVacuumIntervalMs: (env.EMBEDDED_VACUUM_INTERVAL_SECS ?? 300) * 1000,
      embeddedSharedBuffersMb: env.EMBEDDED_SHARED_BUFFERS_MB ?? EMBEDDED_SHARED_BUFFERS_MB,
    }),
});
