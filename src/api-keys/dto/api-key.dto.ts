import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { FAR_FUTURE_EXAMPLE } from '../../common/openapi/examples';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  Max,
  Min,
} from 'class-validator';
import type { Principal } from '../../common/auth/principal';
import { ALL_SCOPES, GRANTABLE_SCOPES, ROLES } from '../../common/auth/scopes';
import type { Scope } from '../../common/auth/scopes';
import { IsDateTime } from '../../common/validation/date-time';
import { IsDisplayName } from '../../common/validation/display-name';
import type { ApiKeyRecord } from '../api-keys.repository';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'ci-runner', minLength: 1, maxLength: 128 })
  @IsDisplayName()
  name!: string;

  @ApiProperty({
    enum: GRANTABLE_SCOPES,
    isArray: true,
    minItems: 1,
    maxItems: GRANTABLE_SCOPES.length,
    uniqueItems: true,
    example: ['tasks:read', 'tasks:write'],
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(GRANTABLE_SCOPES.length)
  @ArrayUnique()
  @IsIn(GRANTABLE_SCOPES, { each: true })
  scopes!: Scope[];

  @ApiPropertyOptional({
    format: 'date-time',
    description:
      'When the key stops working; in the future. Made with an API key that ends, no later than it (unset: ' +
      'when it ends)',
    example: FAR_FUTURE_EXAMPLE,
  })
  @IsOptional()
  @IsDateTime()
  expires_at?: string;
}

export class RotateApiKeyDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 86400,
    default: 0,
    description: 'How long the old key keeps working',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86400)
  grace_seconds?: number;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) key_id!: string;
  @ApiProperty({ example: 'vcp_AbCd1234', description: 'The first 12 characters, to recognise the key' })
  key_prefix!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ALL_SCOPES, isArray: true }) scopes!: string[];
  @ApiProperty({ example: 'general' }) rate_limit_tier!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) expires_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_used_at!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at!: string | null;
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description:
      'The key that replaced this one in a rotation. Unless revoked, this one works until `expires_at` (the ' +
      "grace's end); `last_used_at` shows whether something still uses it",
  })
  replaced_by!: string | null;
}

/** Never carries the key's hash: only what the owner may see. */
export function toApiKeyDto(key: ApiKeyRecord): ApiKeyDto {
  return {
    key_id: key.keyId,
    key_prefix: key.keyPrefix,
    name: key.name,
    scopes: key.scopes,
    rate_limit_tier: key.rateLimitTier,
    expires_at: key.expiresAt?.toISOString() ?? null,
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    created_at: key.createdAt.toISOString(),
    revoked_at: key.revokedAt?.toISOString() ?? null,
    replaced_by: key.replacedBy,
  };
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The key itself. Shown only in this response: store it now.' })
  api_key!: string;
}

export function toCreatedApiKeyDto(key: ApiKeyRecord, apiKey: string): CreatedApiKeyDto {
  return { ...toApiKeyDto(key), api_key: apiKey };
}

export class ApiKeyValidationDto {
  @ApiProperty({ format: 'uuid' }) user_id!: string;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ROLES }) role!: string;
  @ApiProperty({ enum: ALL_SCOPES, isArray: true }) scopes!: string[];
  @ApiProperty({ format: 'uuid' }) key_id!: string;
  @ApiProperty({ example: 'api_key' }) authenticated_via!: 'api_key';
}

/** For a principal authenticated by the API key `keyId`. */
export function toApiKeyValidationDto(principal: Principal, keyId: string): ApiKeyValidationDto {
  return {
    user_id: principal.userId,
    username: principal.username,
    role: principal.role,
    scopes: [...principal.scopes],
    key_id: keyId,
    authenticated_via: 'api_key',
  };
}
