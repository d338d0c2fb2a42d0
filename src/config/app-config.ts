import { dirname, isAbsolute, join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import type { RateTier } from '../common/auth/rate-tiers';
import type { TierLimits } from '../rate-limit/tiers';
import { Environment, WasmRuntimeName } from './environment';

/** Typed, validated configuration. Built once at boot by `loadConfig`; injected by class token. */
export class AppConfig {
  readonly environment!: Environment;
  readonly isProduction!: boolean;
  readonly version!: string;
  readonly http!: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    /** Headers and body must have arrived within this long, or the connection gets a 408 and is closed. */
    readonly requestTimeoutMs: number;
    readonly corsAllowedOrigins: readonly string[];
    readonly trustedProxyCidrs: readonly string[];
    readonly expectCtMaxAge: number | null;
  };
  readonly database!: {
    /** null → embedded PGlite in `dataDir`. */
    readonly url: string | null;
    readonly maxConnections: number;
    readonly connectionTimeoutMs: number;
  };
  readonly dataDir!: string;
  readonly redisUrl!: string | null;
  readonly secrets!: {
    readonly jwtSecret: string;
    readonly refreshTokenPepper: string;
    readonly apiKeyPepper: string;
  };
  readonly auth!: {
    readonly bcryptCost: number;
    readonly accessTokenTtlSeconds: number;
    readonly refreshTokenTtlDays: number;
    /** Created or promoted to admin at boot when both are set. */
    readonly bootstrapAdmin: { readonly username: string; readonly password: string } | null;
  };
  readonly rateLimits!: {
    readonly tiers: Readonly<Record<RateTier, TierLimits>>;
    /** Most buckets the in-memory store (and the Redis fallback) keeps. */
    readonly memoryMaxKeys: number;
  };
  readonly wasmAllowedRoots!: readonly string[];
  readonly wasm!: {
    readonly maxModuleBytes: number;
    readonly timeoutMs: number;
    readonly maxMemoryBytes: number;
    readonly maxConcurrency: number;
    /** Runs one user may have going at once (≤ maxConcurrency), so others always find a slot soon. */
    readonly maxConcurrencyPerUser: number;
    /** Runs one user may have waiting; past it, that user gets 503. */
    readonly maxQueuedPerUser: number;
    readonly defaultRuntime: WasmRuntimeName;
    readonly maxOutputBytes: number;
  };
  readonly logLevel!: string;
  readonly healthCheckTimeoutMs!: number;
  readonly metrics!: {
    /** Bearer token required on `/metrics` when set. */
    readonly token: string | null;
    /** Client IPs allowed to scrape when non-empty (IPs or CIDRs). */
    readonly allowedCidrs: readonly string[];
  };
  readonly proofs!: {
    /**
     * Longest a verification may wait for a thread, and longest it may run on one. Past either it is a 503,
     * never a verdict.
     */
    readonly verifyTimeoutMs: number;
    /** Worker threads that run snarkjs (default: the cores). */
    readonly workers: number;
    /** Verifications one user may have waiting for a thread; past it, that user gets 503. */
    readonly maxQueuedPerUser: number;
    readonly maxWasmBytes: number;
    readonly maxZkeyBytes: number;
    /** Circuit witness generators and proving keys, stored by SHA-256. */
    readonly storageDir: string;
  };

  constructor(values: AppConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

export function resolvePath(path: string, cwd = process.cwd()): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

export function packageVersion(): string {
  // Walk up from this file: it sits at src/config (ts-jest) or dist/src/config (built).
  let dir = __dirname;
  for (let depth = 0; depth < 5; depth++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vcp' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}
