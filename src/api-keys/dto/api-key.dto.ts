import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { ALL_SCOPES, ROLES } from '../../common/auth/scopes';
import type { Scope } from '../../common/auth/scopes';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'ci-runner', minLength: 1, maxLength: 128 })
  @IsString()
  @Length(1, 128)
  @Matches(/^[^\p{Cc}]+$/u, { message: 'name must not contain control characters' })
  name!: string;

  @ApiProperty({ enum: ALL_SCOPES, isArray: true, example: ['tasks:read', 'tasks:write'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(ALL_SCOPES.length)
  @ArrayUnique()
  @IsIn(ALL_SCOPES, { each: true })
  scopes!: Scope[];

  @ApiPropertyOptional({ format: 'date-time', description: 'When the key stops working; in the future' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expires_at?: string;
}

export class RotateApiKeyDto {
  @ApiPropertyOptional({
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
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The key itself. Shown only in this response: store it now.' })
  api_key!: string;
}

export class ApiKeyValidationDto {
  @ApiProperty({ format: 'uuid' }) user_id!: string;
  @ApiProperty() username!: string;
  @ApiProperty({ enum: ROLES }) role!: string;
  @ApiProperty({ enum: ALL_SCOPES, isArray: true }) scopes!: string[];
  @ApiProperty({ format: 'uuid' }) key_id!: string;
  @ApiProperty({ example: 'api_key' }) authenticated_via!: 'api_key';
}
