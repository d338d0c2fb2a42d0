import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError } from '../common/config/problems';
import { AppConfig } from './app-config';
import { DEV_SECRETS_FILE } from './dev-secrets';
import { configProblems } from '../../test/support/config-problems';
import { PRODUCTION_SETTINGS } from '../../test/support/production-settings';
import { loadConfig } from './load-config';

const STRONG = PRODUCTION_SETTINGS;

describe('loadConfig', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-config-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: dataDir, ...env }, dataDir);
  const secretsOf = (config: AppConfig) => ({
    jwtSecret: config.auth.jwtSecret,
    refreshTokenPepper: config.auth.refreshTokenPepper,
    apiKeyPepper: config.apiKeys.pepper,
  });
  const problemsOf = (env: Record<string, string>) => configProblems(() => load(env));

  it('has the documented defaults', () => {
    const sut = load({});
    expect(sut.core.environment).toBe('development');
    expect(sut.http.port).toBe(3000);
    expect(sut.http.bodyLimitBytes).toBe(1024 * 1024);
    expect(sut.http.requestTimeoutMs).toBe(120_000);
    expect(sut.database).toEqual({
      url: null,
      maxConnections: 10,
      connectionTimeoutMs: 30_000,
      queryTimeoutMs: 30_000,
      migrationLockTimeoutMs: 300_000,
      embeddedVacuumIntervalMs: 300_000,
      embeddedSharedBuffersMb: 32,
    });
    expect(sut.redis.url).toBeNull();
    expect(sut.http.expectCtMaxAge).toBeNull();
    expect(sut.wasm.allowedRoots).toEqual([join(dataDir, 'wasm-modules')]);
    const elsewhere = loadConfig({ DATA_DIR: join(dataDir, 'data') }, dataDir);
    expect(elsewhere.wasm.allowedRoots).toEqual([join(dataDir, 'data', 'wasm-modules')]);
    expect(sut.proofs).toEqual({
      verifyTimeoutMs: 10_000,
      workers: availableParallelism(),
      maxQueuedPerUser: 256,
      maxWasmBytes: 8 * 1024 * 1024,
      maxZkeyBytes: 32 * 1024 * 1024,
      storageDir: join(dataDir, 'circuits'),
    });
  });

  it('reads the proof settings', () => {
    const sut = load({
      PROOF_VERIFY_TIMEOUT_MS: '2500',
      PROOF_WORKERS: '3',
      PROOF_MAX_QUEUED_PER_USER: '40',
      CIRCUIT_WASM_MAX_BYTES: '65536',
      CIRCUIT_ZKEY_MAX_BYTES: '131072',
      CIRCUIT_STORAGE_DIR: 'blobs',
    });
    expect(sut.proofs).toEqual({
      verifyTimeoutMs: 2500,
      workers: 3,
      maxQueuedPerUser: 40,
      maxWasmBytes: 65536,
      maxZkeyBytes: 131072,
      storageDir: join(dataDir, 'blobs'),
    });
  });

  it('has the documented WASM engine defaults and reads overrides', () => {
    expect(load({}).wasm).toEqual({
      allowedRoots: [join(dataDir, 'wasm-modules')],
      maxModuleBytes: 10 * 1024 * 1024,
      timeoutMs: 30_000,
      maxMemoryBytes: 256 * 1024 * 1024,
      maxConcurrency: availableParallelism(),
      maxConcurrencyPerUser: Math.ceil(availableParallelism() / 2),
      maxQueuedPerUser: 16,
      defaultRuntime: 'v8',
      maxOutputBytes: 1024 * 1024,
      structure: {
        maxFunctions: 100_000,
        maxFunctionBytes: 1024 * 1024,
        maxLocals: 50_000,
        maxNestingDepth: 4096,
        maxLoopState: 1_000_000,
      },
      moduleCacheBytes: 256 * 1024 * 1024,
      moduleQuotaBytes: 256 * 1024 * 1024,
      moduleQuotaCount: 1000,
    });
    const sut = load({
      WASM_MAX_MODULE_BYTES: '2048',
      WASM_TIMEOUT_SECS: '5',
      WASM_MAX_MEMORY_MB: '64',
      WASM_MAX_CONCURRENCY: '3',
      WASM_MAX_QUEUED_PER_USER: '5',
      WASM_DEFAULT_RUNTIME: 'wasmer',
      WASM_MAX_OUTPUT_BYTES: '4096',
      WASM_MAX_FUNCTIONS: '10',
      WASM_MAX_FUNCTION_BYTES: '2048',
      WASM_MAX_LOCALS: '20',
      WASM_MAX_NESTING_DEPTH: '30',
      WASM_MAX_LOOP_STATE: '40',
      WASM_MODULE_CACHE_BYTES: String(8 * 1024 * 1024),
      MODULE_STORAGE_QUOTA_BYTES: '65536',
      MODULE_STORAGE_QUOTA_COUNT: '7',
    });
    expect(sut.wasm).toEqual({
      allowedRoots: [join(dataDir, 'wasm-modules')],
      maxModuleBytes: 2048,
      timeoutMs: 5000,
      maxMemoryBytes: 64 * 1024 * 1024,
      maxConcurrency: 3,
      maxConcurrencyPerUser: 2,
      maxQueuedPerUser: 5,
      defaultRuntime: 'wasmer',
      maxOutputBytes: 4096,
      structure: {
        maxFunctions: 10,
        maxFunctionBytes: 2048,
        maxLocals: 20,
        maxNestingDepth: 30,
        maxLoopState: 40,
      },
      moduleCacheBytes: 8 * 1024 * 1024,
      moduleQuotaBytes: 65536,
      moduleQuotaCount: 7,
    });
    // A per-user share above the whole is refused: config-values.spec.ts.
    expect(load({ WASM_MAX_CONCURRENCY: '4', WASM_MAX_CONCURRENCY_PER_USER: '3' }).wasm).toMatchObject({
      maxConcurrencyPerUser: 3,
    });
  });

  it('reads typed values', () => {
    const sut = load({
      PORT: '8080',
      DB_MAX_CONNECTIONS: '25',
      DB_CONNECTION_TIMEOUT_SECS: '5',
      DB_QUERY_TIMEOUT_SECS: '7',
      DB_MIGRATION_LOCK_TIMEOUT_SECS: '20',
      EMBEDDED_VACUUM_INTERVAL_SECS: '0',
      EMBEDDED_SHARED_BUFFERS_MB: '64',
      DATABASE_URL: 'postgres://vcp@db.internal:5432/vcp',
      REDIS_URL: 'redis://127.0.0.1:6379',
      CORS_ALLOWED_ORIGINS: 'https://a.example.com, https://b.example.com',
      TRUSTED_PROXY_CIDRS: '10.0.0.0/8,127.0.0.1',
      EXPECT_CT_MAX_AGE: '86400',
    });
    expect(sut.http.port).toBe(8080);
    expect(sut.database).toEqual({
      url: 'postgres://vcp@db.internal:5432/vcp',
      maxConnections: 25,
      connectionTimeoutMs: 5000,
      queryTimeoutMs: 7000,
      migrationLockTimeoutMs: 20_000,
      embeddedVacuumIntervalMs: 0,
      embeddedSharedBuffersMb: 64,
    });
    expect(sut.http.corsAllowedOrigins).toEqual(['https://a.example.com', 'https://b.example.com']);
    expect(sut.http.trustedProxyCidrs).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(sut.http.expectCtMaxAge).toBe(86400);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DB_MAX_CONNECTIONS', '0'],
    ['DATABASE_URL', 'mysql://root@localhost/db'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['REDIS_URL', 'unix://cache/redis.sock'],
    ['ENVIRONMENT', 'staging'],
    ['HTTP_REQUEST_TIMEOUT_MS', '10'],
    ['BODY_LIMIT_BYTES', '12kb'],
    ['TRUSTED_PROXY_CIDRS', 'everyone'],
    ['PROOF_VERIFY_TIMEOUT_MS', '0'],
    ['PROOF_VERIFY_TIMEOUT_MS', '9999999'],
    ['PROOF_WORKERS', '0'],
    ['PROOF_WORKERS', 'many'],
    ['CIRCUIT_WASM_MAX_BYTES', '512'],
    ['CIRCUIT_ZKEY_MAX_BYTES', '2000000000'],
    ['WASM_MAX_MODULE_BYTES', '10mb'],
    ['WASM_TIMEOUT_SECS', '0'],
    ['WASM_MAX_MEMORY_MB', '99999'],
    ['WASM_MAX_CONCURRENCY', '-2'],
    ['WASM_MAX_CONCURRENCY_PER_USER', '0'],
    ['WASM_MAX_QUEUED_PER_USER', 'lots'],
    ['PROOF_MAX_QUEUED_PER_USER', '0'],
    ['WASM_DEFAULT_RUNTIME', 'wasmtime'],
    ['WASM_MAX_OUTPUT_BYTES', '12'],
  ])('refuses %s=%s, naming the variable but not its value', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems.some((p) => p.startsWith(`${name}:`))).toBe(true);
    // As a token: a bound in the message ("from 1 to 300") may contain the digits of a short value.
    const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(problems.join('\n')).not.toMatch(new RegExp(`(^|[^\\w-])${escaped}($|[^\\w])`));
  });

  it('says each rule with its bounds, once per variable', () => {
    expect(problemsOf({ PORT: 'abc' })).toEqual(['PORT: must be a whole number from 0 to 65535']);
    expect(problemsOf({ PORT: '70000' })).toEqual(['PORT: must be a whole number from 0 to 65535']);
    expect(problemsOf({ DB_MIGRATION_LOCK_TIMEOUT_SECS: '0' })).toEqual([
      'DB_MIGRATION_LOCK_TIMEOUT_SECS: must be a whole number from 1 to 86400',
    ]);
    expect(problemsOf({ LOG_LEVEL: 'loud' })).toEqual([
      'LOG_LEVEL: must be one of: fatal, error, warn, info, debug, trace, silent',
    ]);
    expect(problemsOf({ JWT_SECRET: 'short' })).toEqual(['JWT_SECRET: must be at least 16 characters']);
    expect(problemsOf({ DATABASE_URL: 'postgres:///vcp' })).toEqual([
      'DATABASE_URL: is not a PostgreSQL URL: postgres://user:password@host:port/database, or for a Unix ' +
        'socket postgresql:///database?host=/path/to/socket/directory',
    ]);
  });

  it('takes a DATABASE_URL that names a Unix socket, in the forms node-postgres connects with', () => {
    for (const url of [
      'postgresql:///vcp?host=/var/run/postgresql',
      'postgres://vcp:secret@/vcp?host=/cloudsql/project:region:instance',
      'postgres://vcp@%2Fvar%2Frun%2Fpostgresql/vcp',
    ])
      expect(load({ DATABASE_URL: url }).database.url).toBe(url);
  });

  it('holds ADMIN_PASSWORD to the password rule (bcrypt reads 72 bytes) and ADMIN_USERNAME to the reserved names at the config check, not at boot', () => {
    const rule =
      'ADMIN_PASSWORD: must be 8 to 72 bytes of UTF-8, without NUL (bcrypt reads only the first 72 bytes)';
    expect(problemsOf({ ADMIN_USERNAME: 'root1', ADMIN_PASSWORD: 'p'.repeat(81) })).toEqual([rule]);
    // 40 characters, 80 bytes: the bound is in bytes.
    expect(problemsOf({ ADMIN_USERNAME: 'root1', ADMIN_PASSWORD: 'é'.repeat(40) })).toEqual([rule]);
    expect(problemsOf({ ADMIN_USERNAME: 'System_Boss', ADMIN_PASSWORD: 'goodpassword1' })).toEqual([
      'ADMIN_USERNAME: names starting with "system_" are reserved for the server\'s own accounts',
    ]);
    expect(load({ ADMIN_USERNAME: 'root1', ADMIN_PASSWORD: 'p'.repeat(72) }).admin.bootstrapAdmin).toEqual({
      username: 'root1',
      password: 'p'.repeat(72),
    });
  });

  it.each([['*'], ['https://a.example.com,*'], ['null'], ['https://*.example.com'], ['a.example.com']])(
    'refuses CORS_ALLOWED_ORIGINS=%s in any environment',
    (origins) => {
      expect(problemsOf({ CORS_ALLOWED_ORIGINS: origins }).join()).toMatch(/^CORS_ALLOWED_ORIGINS:/);
    },
  );

  describe('in production', () => {
    it('accepts strong settings', () => {
      const sut = load({ ENVIRONMENT: 'production', ...STRONG });
      expect(sut.core.isProduction).toBe(true);
      expect(sut.auth.jwtSecret).toBe(STRONG.JWT_SECRET);
    });

    it('is also selected by NODE_ENV=production', () => {
      expect(problemsOf({ NODE_ENV: 'production' }).join('\n')).toMatch(
        /JWT_SECRET: is required in production/,
      );
    });

    it.each([
      ['a missing JWT_SECRET', { JWT_SECRET: undefined }, 'JWT_SECRET'],
      ['a short JWT_SECRET', { JWT_SECRET: 'Zq8w3Lx0Rv7n2Kp5Jt9y' }, 'JWT_SECRET'],
      ['a JWT_SECRET with "dev"', { JWT_SECRET: 'my-dev-jwt-key-0123456789abcdefghijk' }, 'JWT_SECRET'],
      ['a JWT_SECRET with "test"', { JWT_SECRET: 'Test0123456789abcdefghijklmnopqrst' }, 'JWT_SECRET'],
      ['a JWT_SECRET with "changeme"', { JWT_SECRET: 'CHANGEME0123456789abcdefghijklmnop' }, 'JWT_SECRET'],
      ['a JWT_SECRET with "secret"', { JWT_SECRET: 'supersecret0123456789abcdefghijklm' }, 'JWT_SECRET'],
      ['a missing REFRESH_TOKEN_PEPPER', { REFRESH_TOKEN_PEPPER: undefined }, 'REFRESH_TOKEN_PEPPER'],
      ['a missing API_KEY_PEPPER', { API_KEY_PEPPER: undefined }, 'API_KEY_PEPPER'],
      ['a missing RECEIPT_SIGNING_KEY', { RECEIPT_SIGNING_KEY: undefined }, 'RECEIPT_SIGNING_KEY'],
      ['missing CORS_ALLOWED_ORIGINS', { CORS_ALLOWED_ORIGINS: undefined }, 'CORS_ALLOWED_ORIGINS'],
      ['a wildcard CORS_ALLOWED_ORIGINS', { CORS_ALLOWED_ORIGINS: '*' }, 'CORS_ALLOWED_ORIGINS'],
      ['a bcrypt cost below 10', { BCRYPT_COST: '9' }, 'BCRYPT_COST'],
      ['an invalid proxy CIDR', { TRUSTED_PROXY_CIDRS: '10.0.0.0/33' }, 'TRUSTED_PROXY_CIDRS'],
      ['a rate limit that is not a number', { RATE_LIMIT_AUTH_RPM: 'lots' }, 'RATE_LIMIT_AUTH_RPM'],
      ['/metrics with neither a token nor allowed CIDRs', { METRICS_TOKEN: undefined }, 'METRICS_TOKEN'],
      ['a short METRICS_TOKEN', { METRICS_TOKEN: 'Zq8w3Lx0Rv7' }, 'METRICS_TOKEN'],
      ['an invalid METRICS_ALLOWED_CIDRS', { METRICS_ALLOWED_CIDRS: '10.0.0.0/40' }, 'METRICS_ALLOWED_CIDRS'],
    ])('refuses %s', (_case, override: Record<string, string | undefined>, variable) => {
      const env = Object.fromEntries(
        Object.entries({ ENVIRONMENT: 'production', ...STRONG, ...override }).filter(
          ([, v]) => v !== undefined,
        ),
      ) as Record<string, string>;
      const problems = problemsOf(env);
      expect(problems.every((p) => p.startsWith(`${variable}:`))).toBe(true);
      for (const value of Object.values(override))
        if (value) expect(problems.join('\n')).not.toContain(value);
    });

    it('accepts METRICS_ALLOWED_CIDRS instead of METRICS_TOKEN', () => {
      const sut = load({
        ENVIRONMENT: 'production',
        ...STRONG,
        METRICS_TOKEN: '',
        METRICS_ALLOWED_CIDRS: '10.0.0.0/8, 192.168.1.7',
      });
      expect(sut.metrics).toEqual({ token: null, allowedCidrs: ['10.0.0.0/8', '192.168.1.7'] });
    });

    it('never generates secrets', () => {
      expect(() => load({ ENVIRONMENT: 'production' })).toThrow(ConfigValidationError);
      expect(() => statSync(join(dataDir, DEV_SECRETS_FILE))).toThrow();
    });
  });

  describe('outside production', () => {
    it('generates missing secrets once, stores them with mode 0600 and reuses them', () => {
      const first = load({});
      const file = join(dataDir, DEV_SECRETS_FILE);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const second = load({});
      expect(secretsOf(second)).toEqual(secretsOf(first));
      expect(secretsOf(first).jwtSecret.length).toBeGreaterThanOrEqual(32);
      expect(new Set(Object.values(secretsOf(first))).size).toBe(3);
      expect(JSON.parse(readFileSync(file, 'utf8')).JWT_SECRET).toBe(secretsOf(first).jwtSecret);
    });

    it('prefers a secret from the environment over the stored one', () => {
      load({});
      expect(load({ JWT_SECRET: STRONG.JWT_SECRET }).auth.jwtSecret).toBe(STRONG.JWT_SECRET);
    });
  });
});
