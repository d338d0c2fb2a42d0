import { defineFeatureConfig } from '../common/config/feature-config';
import { SecretVariable } from '../common/config/variables';

export class ApiKeysVariables {
  @SecretVariable()
  API_KEY_PEPPER?: string;
}

export class ApiKeysConfig {
  /** API keys are stored and looked up as keyed hashes under this pepper. */
  readonly pepper!: string;

  constructor(values: ApiKeysConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const apiKeysConfig = defineFeatureConfig({
  token: ApiKeysConfig,
  schema: ApiKeysVariables,
  secrets: ['API_KEY_PEPPER'],
  build: (_env, { secrets }) => new ApiKeysConfig({ pepper: secrets.API_KEY_PEPPER }),
});
