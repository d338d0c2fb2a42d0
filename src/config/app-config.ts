import { CoreConfig } from '../common/config/core.config';
import type { FeatureConfig } from '../common/config/feature-config';
import { HttpConfig, httpConfig } from '../common/http/http.config';
import { AdminConfig, adminConfig } from '../admin/admin.config';
import { ApiKeysConfig, apiKeysConfig } from '../api-keys/api-keys.config';
import { AuthConfig, authConfig } from '../auth/auth.config';
import { DatabaseConfig, databaseConfig } from '../database/database.config';
import { HealthConfig, healthConfig } from '../health/health.config';
import { LoggingConfig, loggingConfig } from '../logging/logging.config';
import { MetricsConfig, metricsConfig } from '../metrics/metrics.config';
import { NodesConfig, nodesConfig } from '../nodes/nodes.config';
import { SchedulingConfig, schedulingConfig } from '../scheduling/scheduling.config';
import { TasksConfig, tasksConfig } from '../tasks/tasks.config';
import { ProofsConfig, proofsConfig } from '../proofs/proofs.config';
import { RateLimitConfig, rateLimitConfig } from '../rate-limit/rate-limit.config';
import { RedisConfig, redisConfig } from '../redis/redis.config';
import { WasmConfig, wasmConfig } from '../wasm/wasm.config';
import { EmbeddedNodeConfig, embeddedNodeConfig } from '../embedded-node/embedded-node.config';
import { ReceiptsConfig, receiptsConfig } from '../receipts/receipts.config';
import { StorageConfig, storageConfig } from '../storage/storage.config';
import { RetentionConfig, retentionConfig } from '../retention/retention.config';
import { OutagesConfig, outagesConfig } from '../outages/outages.config';

/**
 * The whole configuration, built once at boot by `loadConfig`: the core settings and each feature's own
 * config. main.ts, the app module, tests and benches read it; a feature injects only its own part (provided
 * by ConfigModule under the feature's class).
 */
export class AppConfig {
  readonly core!: CoreConfig;
  readonly http!: HttpConfig;
  readonly database!: DatabaseConfig;
  readonly redis!: RedisConfig;
  readonly logging!: LoggingConfig;
  readonly health!: HealthConfig;
  readonly metrics!: MetricsConfig;
  readonly auth!: AuthConfig;
  readonly apiKeys!: ApiKeysConfig;
  readonly admin!: AdminConfig;
  readonly rateLimit!: RateLimitConfig;
  readonly wasm!: WasmConfig;
  readonly proofs!: ProofsConfig;
  readonly nodes!: NodesConfig;
  readonly scheduling!: SchedulingConfig;
  readonly tasks!: TasksConfig;
  readonly embeddedNode!: EmbeddedNodeConfig;
  readonly receipts!: ReceiptsConfig;
  readonly storage!: StorageConfig;
  readonly retention!: RetentionConfig;
  readonly outages!: OutagesConfig;

  constructor(values: AppConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export type FeatureKey = Exclude<keyof AppConfig, 'core'>;

/** Where each part of AppConfig comes from: a new feature's config is one field above and one line here. */
export const FEATURE_CONFIGS = {
  http: httpConfig,
  database: databaseConfig,
  redis: redisConfig,
  logging: loggingConfig,
  health: healthConfig,
  metrics: metricsConfig,
  auth: authConfig,
  apiKeys: apiKeysConfig,
  admin: adminConfig,
  rateLimit: rateLimitConfig,
  wasm: wasmConfig,
  proofs: proofsConfig,
  nodes: nodesConfig,
  scheduling: schedulingConfig,
  tasks: tasksConfig,
  embeddedNode: embeddedNodeConfig,
  receipts: receiptsConfig,
  storage: storageConfig,
  retention: retentionConfig,
  outages: outagesConfig,
} satisfies { readonly [K in FeatureKey]: FeatureConfig<object, AppConfig[K]> };

export const FEATURE_KEYS = Object.keys(FEATURE_CONFIGS) as FeatureKey[];

/** Each feature's variables as its schema parsed them. */
export type FeatureVariables = {
  readonly [K in FeatureKey]: InstanceType<(typeof FEATURE_CONFIGS)[K]['schema']>;
};
