import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { FAR_FUTURE_EXAMPLE } from '../../common/openapi/examples';
import { IsIn, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { AtMostField } from '../../common/validation/at-most-field';
import { IsDateTime } from '../../common/validation/date-time';
import type { ThrottleOverrideRecord } from '../throttle-overrides.repository';

export const SUBJECT_TYPES = ['user', 'api_key', 'ip'] as const;
export const KEY_TIERS = ['general', 'elevated', 'unlimited'] as const;

export class CreateThrottleOverrideDto {
  @ApiProperty({ enum: SUBJECT_TYPES, example: 'ip' })
  @IsIn(SUBJECT_TYPES)
  subject_type!: (typeof SUBJECT_TYPES)[number];

  @ApiProperty({ description: 'A user id, an API key id, or an IP address', example: '203.0.113.7' })
  @IsString()
  @Length(1, 128)
  subject_id!: string;

  @ApiPropertyOptional({ enum: KEY_TIERS, description: 'Multiplier set: general ×1, elevated ×5, unlimited' })
  @IsOptional()
  @IsIn(KEY_TIERS)
  tier?: (typeof KEY_TIERS)[number];

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 1_000_000,
    description: 'Requests per minute, on every route',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  rpm?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 100_000,
    description: 'Requests per second, on every route; at most `rpm` when both are given',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  @AtMostField('rpm', 'a per-second burst above the per-minute limit never applies')
  burst?: number;

  @ApiProperty({
    format: 'date-time',
    description: 'When the override ends; in the future',
    example: FAR_FUTURE_EXAMPLE,
  })
  @IsDateTime()
  expires_at!: string;
}

export class ThrottleOverrideDto {
  @ApiProperty({ format: 'uuid' }) override_id!: string;
  @ApiProperty({ enum: SUBJECT_TYPES }) subject_type!: string;
  @ApiProperty() subject_id!: string;
  @ApiProperty({ nullable: true, type: String, enum: KEY_TIERS }) tier!: string | null;
  @ApiProperty({ nullable: true, type: 'integer' }) rpm!: number | null;
  @ApiProperty({ nullable: true, type: 'integer' }) burst!: number | null;
  @ApiProperty({ format: 'date-time' }) expires_at!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) created_by!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export function toThrottleOverrideDto(record: ThrottleOverrideRecord): ThrottleOverrideDto {
  return {
    override_id: record.overrideId,
    subject_type: record.subjectType,
    subject_id: record.subjectId,
    tier: record.tier,
    rpm: record.rpm,
    burst: record.burst,
    expires_at: record.expiresAt.toISOString(),
    created_by: record.createdBy,
    created_at: record.createdAt.toISOString(),
  };
}
