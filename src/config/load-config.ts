import { availableParallelism } from 'node:os';
import { plainToInstance } from 'class-transformer';
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
  const origins = splitList(env.CORS_ALLOWED_ORIGINS);
  if (origins.length === 0) problems.push('CORS_ALLOWED_ORIGINS: is required in production');
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

function cidrProblems(cidrs: string[]): string[] {
  const valid = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)(\/\d{1,3})?$/;
  return cidrs.every((cidr) => valid.test(cidr))
    ? []
    : ['TRUSTED_PROXY_CIDRS: each entry must be an IP address or CIDR such as 10.0.0.0/8'];
}

export function loadConfig(raw: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): AppConfig {
  const env = plainToInstance(EnvironmentVariables, { ...raw }, { excludeExtraneousValues: false });
  const problems = describe(validateSync(env, { whitelist: true, forbidUnknownValues: false }));
  const environment = resolveEnvironment(env);
  const isProduction = environment === 'production';
  const corsAllowedOrigins = splitList(env.CORS_ALLOWED_ORIGINS);
  const trustedProxyCidrs = splitList(env.TRUSTED_PROXY_CIDRS);
  problems.push(...corsProblems(corsAllowedOrigins), ...cidrProblems(trustedProxyCidrs));
  if (isProduction) problems.push(...productionProblems(env));
  if (problems.length > 0) throw new ConfigValidationError([...new Set(problems)]);

  const dataDir = resolvePath(env.DATA_DIR ?? './data', cwd);
  const missing = SECRET_NAMES.filter((name) => !env[name]);
  const generated = missing.length > 0 ? loadOrCreateDevSecrets(dataDir) : null;
  const secret = (name: SecretName): string => env[name] ?? generated![name];

  return new AppConfig({
    environment,
    isProduction,
    version: env.APP_VERSION ?? packageVersion(),
    http: {
      host: env.HOST ?? '0.0.0.0',
      port: env.PORT ?? 3000,
      bodyLimitBytes: env.BODY_LIMIT_BYTES ?? 1024 * 1024,
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
    wasmAllowedRoots: splitList(env.WASM_ALLOWED_ROOTS ?? './wasm-modules').map((p) => resolvePath(p, cwd)),
    wasm: {
      maxModuleBytes: env.WASM_MAX_MODULE_BYTES ?? 10 * 1024 * 1024,
      timeoutMs: (env.WASM_TIMEOUT_SECS ?? 30) * 1000,
      maxMemoryBytes: (env.WASM_MAX_MEMORY_MB ?? 256) * 1024 * 1024,
      maxConcurrency: env.WASM_MAX_CONCURRENCY ?? availableParallelism(),
      // v8 by the benchmark in bench/wasm.ts (numbers in the README).
      defaultRuntime: env.WASM_DEFAULT_RUNTIME ?? 'v8',
      maxOutputBytes: env.WASM_MAX_OUTPUT_BYTES ?? 1024 * 1024,
    },
    logLevel: env.LOG_LEVEL ?? (environment === 'test' ? 'warn' : 'info'),
    healthCheckTimeoutMs: env.HEALTH_CHECK_TIMEOUT_MS ?? 2000,
  });
}
