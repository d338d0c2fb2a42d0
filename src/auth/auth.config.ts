import { createSecretKey, KeyObject } from 'node:crypto';
import { defineFeatureConfig } from '../common/config/feature-config';
import { ChoiceVariable, IntVariable, SecretVariable } from '../common/config/variables';

/** `open`: anyone may register (the original's behaviour); `closed`: only admins create accounts. */
export const REGISTRATION_MODES = ['open', 'closed'] as const;
export type RegistrationMode = (typeof REGISTRATION_MODES)[number];

export class AuthVariables {
  @SecretVariable()
  JWT_SECRET?: string;

  @SecretVariable()
  REFRESH_TOKEN_PEPPER?: string;

  @IntVariable(4, 15)
  BCRYPT_COST?: number;

  @IntVariable(60, 86_400)
  JWT_ACCESS_TTL_SECONDS?: number;

  @IntVariable(1, 365)
  REFRESH_TOKEN_TTL_DAYS?: number;

  @ChoiceVariable(REGISTRATION_MODES)
  REGISTRATION?: RegistrationMode;
}

/** Passwords, access tokens (JWT) and refresh tokens. */
export class AuthConfig {
  readonly jwtSecret!: string;
  /** Refresh tokens are stored as keyed hashes under this pepper. */
  readonly refreshTokenPepper!: string;
  readonly bcryptCost!: number;
  readonly accessTokenTtlSeconds!: number;
  readonly refreshTokenTtlDays!: number;
  /**
   * Closed, accounts are made by admins only. A quorum trusts nodes of distinct owners (accounts); where anyone
   * may register, one person can own several, so a deployment that relies on quorums may close registration.
   */
  readonly registration!: RegistrationMode;

  /**
   * JWT_SECRET as an HMAC key object, built once. Handed a string, jsonwebtoken first tries to parse it as a
   * PEM public/private key on every sign and verify and only then falls back to an HMAC key; the failed parse
   * and its exception cost about 1 ms per authenticated request.
   */
  readonly jwtKey: KeyObject;

  constructor(values: Omit<AuthConfig, 'jwtKey'>) {
    Object.assign(this, values);
    this.jwtKey = createSecretKey(Buffer.from(values.jwtSecret, 'utf8'));
    Object.freeze(this);
  }
}

export const authConfig = defineFeatureConfig({
  token: AuthConfig,
  schema: AuthVariables,
  secrets: ['JWT_SECRET', 'REFRESH_TOKEN_PEPPER'],
  build: (env, { secrets }) =>
    new AuthConfig({
      jwtSecret: secrets.JWT_SECRET,
      refreshTokenPepper: secrets.REFRESH_TOKEN_PEPPER,
      bcryptCost: env.BCRYPT_COST ?? 12,
      accessTokenTtlSeconds: env.JWT_ACCESS_TTL_SECONDS ?? 900,
      refreshTokenTtlDays: env.REFRESH_TOKEN_TTL_DAYS ?? 30,
      registration: env.REGISTRATION ?? 'open',
    }),
});
