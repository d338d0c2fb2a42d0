import { defineFeatureConfig } from '../common/config/feature-config';
import { PatternVariable, TextVariable } from '../common/config/variables';
import { USERNAME_PATTERN } from '../common/validation/username';
import { isReservedUsername, SYSTEM_ACCOUNT_PREFIX } from '../common/validation/reserved-names';
import { isBeyondBcrypt, PASSWORD_MAX_BYTES, PASSWORD_MIN_BYTES } from '../auth/password';

export class AdminVariables {
  @PatternVariable(USERNAME_PATTERN)
  ADMIN_USERNAME?: string;

  @TextVariable({ minLength: PASSWORD_MIN_BYTES, maxLength: 256 })
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
  check: (env) => [
    ...(Boolean(env.ADMIN_USERNAME) !== Boolean(env.ADMIN_PASSWORD)
      ? ['ADMIN_USERNAME: ADMIN_USERNAME and ADMIN_PASSWORD must be set together']
      : []),
    ...(isReservedUsername(env.ADMIN_USERNAME)
      ? [
          `ADMIN_USERNAME: names starting with "${SYSTEM_ACCOUNT_PREFIX}" are reserved for the server's own accounts`,
        ]
      : []),
    // The rule every password follows (bcrypt reads 72 bytes), told at the config check rather than at boot.
    ...(env.ADMIN_PASSWORD && isBeyondBcrypt(env.ADMIN_PASSWORD)
      ? [
          `ADMIN_PASSWORD: must be ${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes of UTF-8, without NUL ` +
            '(bcrypt reads only the first 72 bytes)',
        ]
      : []),
  ],
  build: (env) =>
    new AdminConfig({
      bootstrapAdmin:
        env.ADMIN_USERNAME && env.ADMIN_PASSWORD
          ? { username: env.ADMIN_USERNAME, password: env.ADMIN_PASSWORD }
          : null,
    }),
});
