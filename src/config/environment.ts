import { Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { USERNAME_PATTERN } from '../common/validation/username';

export const ENVIRONMENTS = ['development', 'test', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export const WASM_RUNTIMES = ['wasmer', 'v8'] as const;
export type WasmRuntimeName = (typeof WASM_RUNTIMES)[number];

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/**
 * The raw process environment, validated once at boot. Messages name the variable and the rule, never the
 * value: a misplaced secret must not end up in a deploy log.
 */
export class EnvironmentVariables {
  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT?: number;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MaxLength(255)
  HOST?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsIn(ENVIRONMENTS)
  ENVIRONMENT?: Environment;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  NODE_ENV?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ protocols: ['postgres', 'postgresql'], require_tld: false, require_protocol: true })
  DATABASE_URL?: string;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(500)
  DB_MAX_CONNECTIONS?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(600)
  DB_CONNECTION_TIMEOUT_SECS?: number;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  DATA_DIR?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16)
  @MaxLength(512)
  JWT_SECRET?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16)
  @MaxLength(512)
  REFRESH_TOKEN_PEPPER?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16)
  @MaxLength(512)
  API_KEY_PEPPER?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MaxLength(8192)
  CORS_ALLOWED_ORIGINS?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MaxLength(8192)
  TRUSTED_PROXY_CIDRS?: string;

  /** Bearer token Prometheus must present on `/metrics`; compared in constant time. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16)
  @MaxLength(512)
  METRICS_TOKEN?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MaxLength(8192)
  METRICS_ALLOWED_CIDRS?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ protocols: ['redis', 'rediss'], require_tld: false, require_protocol: true })
  REDIS_URL?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MaxLength(8192)
  WASM_ALLOWED_ROOTS?: string;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1024)
  @Max(1024 * 1024 * 1024)
  BODY_LIMIT_BYTES?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  HTTP_REQUEST_TIMEOUT_MS?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1024)
  @Max(1024 * 1024 * 1024)
  WASM_MAX_MODULE_BYTES?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3600)
  WASM_TIMEOUT_SECS?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(4096)
  WASM_MAX_MEMORY_MB?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(256)
  WASM_MAX_CONCURRENCY?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(256)
  WASM_MAX_CONCURRENCY_PER_USER?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  WASM_MAX_QUEUED_PER_USER?: number;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsIn(WASM_RUNTIMES)
  WASM_DEFAULT_RUNTIME?: WasmRuntimeName;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024)
  WASM_MAX_OUTPUT_BYTES?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(365 * 24 * 3600)
  EXPECT_CT_MAX_AGE?: number;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL?: string;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(60_000)
  HEALTH_CHECK_TIMEOUT_MS?: number;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/)
  APP_VERSION?: string;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(4)
  @Max(15)
  BCRYPT_COST?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(86_400)
  JWT_ACCESS_TTL_SECONDS?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(365)
  REFRESH_TOKEN_TTL_DAYS?: number;

  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(USERNAME_PATTERN)
  ADMIN_USERNAME?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  ADMIN_PASSWORD?: string;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(600_000)
  PROOF_VERIFY_TIMEOUT_MS?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(64)
  PROOF_WORKERS?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  PROOF_MAX_QUEUED_PER_USER?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1024)
  @Max(256 * 1024 * 1024)
  CIRCUIT_WASM_MAX_BYTES?: number;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1024)
  @Max(1024 * 1024 * 1024)
  CIRCUIT_ZKEY_MAX_BYTES?: number;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  CIRCUIT_STORAGE_DIR?: string;

  @Transform(toInt)
  @IsOptional()
  @IsInt()
  @Min(1000)
  @Max(10_000_000)
  RATE_LIMIT_MEMORY_MAX_KEYS?: number;
}
