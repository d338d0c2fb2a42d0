import { defineFeatureConfig } from '../common/config/feature-config';
import { PatternVariable, TextVariable } from '../common/config/variables';
import { USERNAME_PATTERN } from '../common/validation/username';

export class AdminVariables {
  @PatternVariable(USERNAME_PATTERN)
  ADMIN_USERNAME?: string;

  @TextVariable({ minLength: 8, maxLength: 256 })
  ADMIN_PASSWORD?: string;
}

export class AdminConfig {
  /** Created or promoted to admin at boot when both are set. */
  readonly bootstrapAdmin!: { readonly username: string; readonly password: string } | null;

  constructor(values: AdminConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export const adminConfig = defineFeatureConfig({
  token: AdminConfig,
  schema: AdminVariables,
  check: (env) =>
    Boolean(env.ADMIN_USERNAME) !== Boolean(env.ADMIN_PASSWORD)
      ? ['ADMIN_USERNAME: ADMIN_USERNAME and ADMIN_PASSWORD must be set together']
      : [],
  build: (env) =>
    new AdminConfig({
      bootstrapAdmin:
        env.ADMIN_USERNAME && env.ADMIN_PASSWORD
          ? { username: env.ADMIN_USERNAME, password: env.ADMIN_PASSWORD }
          : null,
    }),
});
