import { availableParallelism } from 'node:os';
import { plainToInstance } from 'class-transformer';
import ipaddr from 'ipaddr.js';
import { RATE_TIERS, RateTier } from '../common/auth/rate-tiers';
import { DEFAULT_TIER_LIMITS, TierLimits } from '../rate-limit/tiers';
import { join } from 'node:path';
import { ValidationError, validateSync } from 'class-validator';
import { AppConfig, packageVersion, resolvePath, splitList } from './app-config';
import { loadOrCreateDevSecrets, SECRET_NAMES, SecretName } from './dev-secrets';
import { Environment, EnvironmentVariables } from './environment';

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigValidationError';
  }
}

const PLACEHOLDER_WORDS = ['dev', 'test', 'changeme', 'secret'];
const MIN_PRODUCTION_SECRET_LENGTH = 32;

/** Describes a failed rule by variable name and constraint only, never by value. */
function describe(errors: ValidationError[]): string[] {
  return errors.flatMap((error) =>
    Object.keys(error.constraints ?? { invalid: '' }).map((rule) => `${error.property}: ${ruleText(rule)}`),
  );
}

function ruleText(rule: string): string {
  const texts: Record<string, string> = {
    isInt: 'must be a whole number',
    min: 'is below the allowed minimum',
    max: 'is above the allowed maximum',
    isIn: 'is not one of the allowed values',
    isUrl: 'is not a valid URL of the expected scheme',
    minLength: 'is too short',
    maxLength: 'is too long',
    matches: 'has characters that are not allowed',
    isString: 'must be a string',
  };
  return texts[rule] ?? `fails rule ${rule}`;
}

function resolveEnvironment(env: EnvironmentVariables): Environment {
  if (env.ENVIRONMENT) return env.ENVIRONMENT;
  if (env.NODE_ENV === 'production') return 'production';
  if (env.NODE_ENV === 'test') return 'test';
  return 'development';
}

/** Production refuses weak settings outright instead of warning: a warning in a log is read too late. */
function productionProblems(env: EnvironmentVariables): string[] {
  const problems: string[] = [];
  const jwt = env.JWT_SECRET;
  if (!jwt) problems.push('JWT_SECRET: is required in production');
  else if (jwt.length < MIN_PRODUCTION_SECRET_LENGTH)
    problems.push(`JWT_SECRET: must be at least ${MIN_PRODUCTION_SECRET_LENGTH} characters in production`);
  else if (PLACEHOLDER_WORDS.some((word) => jwt.toLowerCase().includes(word)))
    problems.push(
      'JWT_SECRET: looks like a placeholder (contains a word such as "dev", "test", "changeme" or "secret")',
    );
  for (const name of ['REFRESH_TOKEN_PEPPER', 'API_KEY_PEPPER'] as const) {
    if (!env[name]) problems.push(`${name}: is required in production`);
  }
  // Below cost 10 a stolen hash table is cracked too cheaply; tests may go lower to stay fast.
  if (env.BCRYPT_COST !== undefined && env.BCRYPT_COST < 10)
    problems.push('BCRYPT_COST: must be at least 10 in production');
  const origins = splitList(env.CORS_ALLOWED_ORIGINS);
  if (origins.length === 0) problems.push('CORS_ALLOWED_ORIGINS: is required in production');
  // An open /metrics tells anyone the routes, the traffic and the failure rates.
  if (!env.METRICS_TOKEN && splitList(env.METRICS_ALLOWED_CIDRS).length === 0)
    problems.push('METRICS_TOKEN: METRICS_TOKEN or METRICS_ALLOWED_CIDRS is required in production');
  return problems;
}

/** A wildcard or `null` origin would let any page drive the API with a user's credentials. */
function corsProblems(origins: string[]): string[] {
  const problems: string[] = [];
  for (const origin of origins) {
    if (origin.includes('*')) {
      problems.push('CORS_ALLOWED_ORIGINS: wildcards are not allowed; list exact origins');
      break;
    }
    if (origin === 'null' || !/^https?:\/\/[^/\s]+$/.test(origin)) {
      problems.push(
        'CORS_ALLOWED_ORIGINS: each entry must be an exact origin such as https://app.example.com',
      );
      break;
    }
  }
  return problems;
}

/** Parsed with ipaddr.js (the library behind Fastify's proxy-addr), never by hand. */
function cidrProblems(cidrs: string[], variable: string): string[] {
  const valid = (entry: string) => {
    if (ipaddr.isValid(entry)) return true;
    try {
      ipaddr.parseCIDR(entry);
      return true;
    } catch {
      return false;
    }
  };
  return cidrs.every(valid)
    ? []
    : [`${variable}: each entry must be an IP address or CIDR such as 10.0.0.0/8`];
}

/** RATE_LIMIT_<TIER>_RPM and RATE_LIMIT_<TIER>_BURST, validated here because the names are generated. */
function rateLimitTiers(raw: NodeJS.ProcessEnv, problems: string[]): Record<RateTier, TierLimits> {
  const read = (name: string, fallback: number, max: number): number => {
    const value = raw[name]?.trim();
    if (!value) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      problems.push(`${name}: must be a whole number from 1 to ${max}`);
      return fallback;
    }
    return Number(value);
  };
  return Object.fromEntries(
    RATE_TIERS.map((tier) => {
      const prefix = `RATE_LIMIT_${tier.toUpperCase()}`;
      const defaults = DEFAULT_TIER_LIMITS[tier];
      return [
        tier,
        {
          rpm: read(`${prefix}_RPM`, defaults.rpm, 1_000_000),
          burst: read(`${prefix}_BURST`, defaults.burst, 100_000),
        },
      ];
    }),
  ) as Record<RateTier, TierLimits>;
}

export function loadConfig(raw: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): AppConfig {
  const env = plainToInstance(EnvironmentVariables, { ...raw }, { excludeExtraneousValues: false });
  const problems = describe(validateSync(env, { whitelist: true, forbidUnknownValues: false }));
  const environment = resolveEnvironment(env);
  const isProduction = environment === 'production';
  const corsAllowedOrigins = splitList(env.CORS_ALLOWED_ORIGINS);
  const trustedProxyCidrs = splitList(env.TRUSTED_PROXY_CIDRS);
  const metricsAllowedCidrs = splitList(env.METRICS_ALLOWED_CIDRS);
  problems.push(
    ...corsProblems(corsAllowedOrigins),
    ...cidrProblems(trustedProxyCidrs, 'TRUSTED_PROXY_CIDRS'),
    ...cidrProblems(metricsAllowedCidrs, 'METRICS_ALLOWED_CIDRS'),
  );
  const tiers = rateLimitTiers(raw, problems);
  if (Boolean(env.ADMIN_USERNAME) !== Boolean(env.ADMIN_PASSWORD))
    problems.push('ADMIN_USERNAME: ADMIN_USERNAME and ADMIN_PASSWORD must be set together');
  if (isProduction) problems.push(...productionProblems(env));
  if (problems.length > 0) throw new ConfigValidationError([...new Set(problems)]);

  const dataDir = resolvePath(env.DATA_DIR ?? './data', cwd);
  const missing = SECRET_NAMES.filter((name) => !env[name]);
  const generated = missing.length > 0 ? loadOrCreateDevSecrets(dataDir) : null;
  const secret = (name: SecretName): string => env[name] ?? generated![name];
  const wasmConcurrency = env.WASM_MAX_CONCURRENCY ?? availableParallelism();

  return new AppConfig({
    environment,
    isProduction,
    version: env.APP_VERSION ?? packageVersion(),
    http: {
      host: env.HOST ?? '0.0.0.0',
      port: env.PORT ?? 3000,
      bodyLimitBytes: env.BODY_LIMIT_BYTES ?? 1024 * 1024,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS ?? 120_000,
      corsAllowedOrigins,
      trustedProxyCidrs,
      expectCtMaxAge: env.EXPECT_CT_MAX_AGE ?? null,
    },
    database: {
      url: env.DATABASE_URL ?? null,
      maxConnections: env.DB_MAX_CONNECTIONS ?? 10,
      connectionTimeoutMs: (env.DB_CONNECTION_TIMEOUT_SECS ?? 30) * 1000,
    },
    dataDir,
    redisUrl: env.REDIS_URL ?? null,
    secrets: {
      jwtSecret: secret('JWT_SECRET'),
      refreshTokenPepper: secret('REFRESH_TOKEN_PEPPER'),
      apiKeyPepper: secret('API_KEY_PEPPER'),
    },
    auth: {
      bcryptCost: env.BCRYPT_COST ?? 12,
      accessTokenTtlSeconds: env.JWT_ACCESS_TTL_SECONDS ?? 900,
      refreshTokenTtlDays: env.REFRESH_TOKEN_TTL_DAYS ?? 30,
      bootstrapAdmin:
        env.ADMIN_USERNAME && env.ADMIN_PASSWORD
          ? { username: env.ADMIN_USERNAME, password: env.ADMIN_PASSWORD }
          : null,
    },
    rateLimits: { tiers, memoryMaxKeys: env.RATE_LIMIT_MEMORY_MAX_KEYS ?? 50_000 },
    // Uploaded modules live with the rest of the service's data unless roots are named.
    wasmAllowedRoots: splitList(env.WASM_ALLOWED_ROOTS ?? join(dataDir, 'wasm-modules')).map((p) =>
      resolvePath(p, cwd),
    ),
    wasm: {
      maxModuleBytes: env.WASM_MAX_MODULE_BYTES ?? 10 * 1024 * 1024,
      timeoutMs: (env.WASM_TIMEOUT_SECS ?? 30) * 1000,
      maxMemoryBytes: (env.WASM_MAX_MEMORY_MB ?? 256) * 1024 * 1024,
      maxConcurrency: wasmConcurrency,
      // Half the slots by default: a second user finds one free however many runs the first has queued.
      maxConcurrencyPerUser: Math.min(
        wasmConcurrency,
        env.WASM_MAX_CONCURRENCY_PER_USER ?? Math.ceil(wasmConcurrency / 2),
      ),
      maxQueuedPerUser: env.WASM_MAX_QUEUED_PER_USER ?? 16,
      // v8 by the benchmark in bench/wasm.ts (numbers in bench/README.md).
      defaultRuntime: env.WASM_DEFAULT_RUNTIME ?? 'v8',
      maxOutputBytes: env.WASM_MAX_OUTPUT_BYTES ?? 1024 * 1024,
    },
    logLevel: env.LOG_LEVEL ?? (environment === 'test' ? 'warn' : 'info'),
    healthCheckTimeoutMs: env.HEALTH_CHECK_TIMEOUT_MS ?? 2000,
    metrics: { token: env.METRICS_TOKEN ?? null, allowedCidrs: metricsAllowedCidrs },
    proofs: {
      verifyTimeoutMs: env.PROOF_VERIFY_TIMEOUT_MS ?? 10_000,
      workers: env.PROOF_WORKERS ?? availableParallelism(),
      maxQueuedPerUser: env.PROOF_MAX_QUEUED_PER_USER ?? 256,
      maxWasmBytes: env.CIRCUIT_WASM_MAX_BYTES ?? 8 * 1024 * 1024,
      maxZkeyBytes: env.CIRCUIT_ZKEY_MAX_BYTES ?? 32 * 1024 * 1024,
      storageDir: resolvePath(env.CIRCUIT_STORAGE_DIR ?? join(dataDir, 'circuits'), cwd),
    },
  });
}
