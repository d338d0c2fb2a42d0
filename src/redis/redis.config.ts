import { defineFeatureConfig } from '../common/config/feature-config';
import { RedisUrlVariable } from './redis-url';

export class RedisVariables {
  @RedisUrlVariable()
  REDIS_URL?: string;
}

export class RedisConfig {
  /** null → no Redis: rate-limit counters stay in memory. */
  readonly url!: string | null;

  constructor(values: RedisConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const redisConfig = defineFeatureConfig({
  token: RedisConfig,
  schema: RedisVariables,
  build: (env) => new RedisConfig({ url: env.REDIS_URL ?? null }),
});
