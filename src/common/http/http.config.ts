import { isIP } from 'node:net';
import { defineFeatureConfig } from '../config/feature-config';
import { cidrListProblems } from '../config/problems';
import { splitList } from '../config/values';
import { IntVariable, TextVariable } from '../config/variables';

export class HttpVariables {
  @IntVariable(0, 65535)
  PORT?: number;

  @TextVariable({ maxLength: 255 })
  HOST?: string;

  @IntVariable(1024, 1024 * 1024 * 1024)
  BODY_LIMIT_BYTES?: number;

  @IntVariable(1000, 3_600_000)
  HTTP_REQUEST_TIMEOUT_MS?: number;

  @IntVariable(1000, 600_000)
  SHUTDOWN_TIMEOUT_MS?: number;

  @TextVariable({ maxLength: 8192 })
  CORS_ALLOWED_ORIGINS?: string;

  @TextVariable({ maxLength: 8192 })
  TRUSTED_PROXY_CIDRS?: string;

  @IntVariable(0, 365 * 24 * 3600)
  EXPECT_CT_MAX_AGE?: number;
}

/** The HTTP server: where it listens, what it accepts and whom it believes. */
export class HttpConfig {
  readonly host!: string;
  readonly port!: number;
  /** The body limit of every route without its own `@BodyLimit`. */
  readonly bodyLimitBytes!: number;
  /** Headers and body must have arrived within this long, or the connection gets a 408 and is closed. */
  readonly requestTimeoutMs!: number;
  /** From SIGTERM to a forced exit (1); work still running shortly before it is stopped (ConnectionDraining). */
  readonly shutdownTimeoutMs!: number;
  readonly corsAllowedOrigins!: readonly string[];
  readonly trustedProxyCidrs!: readonly string[];
  readonly expectCtMaxAge!: number | null;

  constructor(values: HttpConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

/** A wildcard or `null` origin would let any page drive the API with a user's credentials. */
function corsProblems(origins: string[]): string[] {
  for (const origin of origins) {
    if (origin.includes('*')) return ['CORS_ALLOWED_ORIGINS: wildcards are not allowed; list exact origins'];
    if (origin === 'null' || !/^https?:\/\/[^/\s]+$/.test(origin)) {
      return ['CORS_ALLOWED_ORIGINS: each entry must be an exact origin such as https://app.example.com'];
    }
  }
  return [];
}

/** A DNS label: letters, digits, hyphens (not at either end); underscores too, as container names have them. */
const HOST_LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/**
 * The address to bind: checked here, so that a typo stops the start before migrations and not at listen().
 * A name must still resolve to a local address there; this only refuses what can never be one.
 */
function hostProblems(host: string | undefined): string[] {
  if (host === undefined || isIP(host) !== 0) return [];
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length <= 253 && name.split('.').every((label) => HOST_LABEL.test(label))) return [];
  return [
    'HOST: must be an IP address (such as 0.0.0.0, :: or 127.0.0.1) or a host name (labels of 1 to 63 letters, ' +
      'digits, hyphens or underscores, separated by dots; at most 253 characters)',
  ];
}

export const httpConfig = defineFeatureConfig({
  token: HttpConfig,
  schema: HttpVariables,
  check: (env) => [
    ...hostProblems(env.HOST),
    ...corsProblems(splitList(env.CORS_ALLOWED_ORIGINS)),
    ...cidrListProblems(splitList(env.TRUSTED_PROXY_CIDRS), 'TRUSTED_PROXY_CIDRS'),
  ],
  build: (env) =>
    new HttpConfig({
      host: env.HOST ?? '0.0.0.0',
      port: env.PORT ?? 3000,
      bodyLimitBytes: env.BODY_LIMIT_BYTES ?? 1024 * 1024,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS ?? 120_000,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS ?? 10_000,
      corsAllowedOrigins: splitList(env.CORS_ALLOWED_ORIGINS),
      trustedProxyCidrs: splitList(env.TRUSTED_PROXY_CIDRS),
      expectCtMaxAge: env.EXPECT_CT_MAX_AGE ?? null,
    }),
});
