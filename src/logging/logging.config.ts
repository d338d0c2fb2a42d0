import { defineFeatureConfig } from '../common/config/feature-config';
import { ChoiceVariable } from '../common/config/variables';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class LoggingVariables {
  @ChoiceVariable(LOG_LEVELS)
  LOG_LEVEL?: string;
}

export class LoggingConfig {
  readonly level!: string;

  constructor(values: LoggingConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const loggingConfig = defineFeatureConfig({
  token: LoggingConfig,
  schema: LoggingVariables,
  build: (env, { core }) =>
    new LoggingConfig({ level: env.LOG_LEVEL ?? (core.environment === 'test' ? 'warn' : 'info') }),
});
