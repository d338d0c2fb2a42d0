import { defineFeatureConfig } from '../common/config/feature-config';
import { IntVariable } from '../common/config/variables';
import { PostgresUrlVariable } from './postgres-url';

export class DatabaseVariables {
  @PostgresUrlVariable()
  DATABASE_URL?: string;

  @IntVariable(1, 500)
  DB_MAX_CONNECTIONS?: number;

  @IntVariable(1, 600)
  DB_CONNECTION_TIMEOUT_SECS?: number;

  @IntVariable(1, 86_400)
  DB_MIGRATION_LOCK_TIMEOUT_SECS?: number;

  @IntVariable(0, 86_400)
  EMBEDDED_VACUUM_INTERVAL_SECS?: number;
}

export class DatabaseConfig {
  /** null → embedded PGlite in DATA_DIR. */
  readonly url!: string | null;
  readonly maxConnections!: number;
  readonly connectionTimeoutMs!: number;
  /** How long a start waits for another session's migration lock before it gives up (PostgreSQL only). */
  readonly migrationLockTimeoutMs!: number;
  /** How often the embedded database is vacuumed and analyzed (it has no autovacuum); 0: never. */
  readonly embeddedVacuumIntervalMs!: number;

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
      migrationLockTimeoutMs: (env.DB_MIGRATION_LOCK_TIMEOUT_SECS ?? 300) * 1000,
      embeddedVacuumIntervalMs: (env.EMBEDDED_VACUUM_INTERVAL_SECS ?? 300) * 1000,
    }),
});
