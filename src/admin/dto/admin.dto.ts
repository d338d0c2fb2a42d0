import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
  ValidateIf,
} from 'class-validator';
import { PageQueryDto } from '../../common/pagination/cursor';
import { ROLES } from '../../common/auth/scopes';
import type { Role } from '../../common/auth/scopes';

/**
 * Optional, but not nullable: `@IsOptional` would let `null` through to a NOT NULL column (a 500). An absent
 * field means "leave it"; `null` is a 422.
 */
const OmittableOnly = () => ValidateIf((_object, value) => value !== undefined);

export class UpdateUserDto {
  @ApiPropertyOptional({ enum: ROLES })
  @OmittableOnly()
  @IsIn(ROLES)
  role?: Role;

  @ApiPropertyOptional({ description: 'true disables the account and revokes all its refresh tokens' })
  @OmittableOnly()
  @IsBoolean()
  disabled?: boolean;
}

export class AdminUserDto {
  @ApiProperty({ format: 'uuid' }) user_id!: string;
  @ApiProperty() username!: string;
  @ApiProperty({ nullable: true, type: String }) email!: string | null;
  @ApiProperty({ enum: ROLES }) role!: string;
  @ApiProperty() disabled!: boolean;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_login!: string | null;
}

export class AdminUserPageDto {
  @ApiProperty({ type: [AdminUserDto] }) items!: AdminUserDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page' })
  next_cursor!: string | null;
}

export class AuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'auth.login' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(/^[a-z0-9_.:-]+$/, { message: 'action must be an action name such as auth.login' })
  action?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  user_id?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class AuditEntryDto {
  @ApiProperty({ format: 'uuid' }) log_id!: string;
  @ApiProperty({ nullable: true, type: String }) user_id!: string | null;
  @ApiProperty() action!: string;
  @ApiProperty({ nullable: true, type: String }) resource_type!: string | null;
  @ApiProperty({ nullable: true, type: String }) resource_id!: string | null;
  @ApiProperty({ nullable: true, type: String }) ip_address!: string | null;
  @ApiProperty({ nullable: true, type: String }) user_agent!: string | null;
  @ApiProperty({ nullable: true, type: String }) request_id!: string | null;
  @ApiProperty({ enum: ['success', 'failure', 'denied'] }) status!: string;
  @ApiProperty({ nullable: true, type: String }) error_message!: string | null;
  @ApiProperty({ nullable: true, type: Object }) metadata!: Record<string, unknown> | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEntryDto] }) items!: AuditEntryDto[];
  @ApiProperty({ nullable: true, type: String }) next_cursor!: string | null;
}
