import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { PageDto, PageQueryDto } from '../../common/pagination/page.dto';
import { IsDateTime } from '../../common/validation/date-time';
import { AUDIT_ACTIONS } from '../audit-actions';
import type { AuditRecord } from '../audit-log.repository';

export class AuditQueryDto extends PageQueryDto {
  // Not an enum in the document: a well-formed name outside today's list is accepted (a replica of another
  // version may know more actions) and matches no row, which an enum would call invalid.
  @ApiPropertyOptional({
    pattern: '^[a-z0-9_.:-]+$',
    maxLength: 64,
    description: `An action name: ${AUDIT_ACTIONS.join(', ')}. A well-formed name outside these matches no row`,
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(/^[a-z0-9_.:-]+$/, { message: 'action must be an action name such as auth.login' })
  action?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only rows of this user (the actor)' })
  @IsOptional()
  @IsUUID()
  user_id?: string;

  @ApiPropertyOptional({
    maxLength: 64,
    pattern: '^[a-z0-9_]+$',
    description:
      'Only rows about this kind of resource: user, api_key, refresh_token_family, node, task, task_run, ' +
      'module, circuit, throttle_override',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(/^[a-z0-9_]+$/, { message: 'resource_type must be a resource kind such as user' })
  resource_type?: string;

  @ApiPropertyOptional({
    maxLength: 128,
    description: 'Only rows about this resource (a user’s, key’s, node’s or task’s id): what was done to it',
  })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  resource_id?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description:
      "Only rows recorded at or after this time: a row is stamped with its transaction's start and readable " +
      'at its commit, so to follow the log ask again from a minute before the newest row read and skip seen ids',
  })
  @IsOptional()
  @IsDateTime()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Only rows recorded at or before this time' })
  @IsOptional()
  @IsDateTime()
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

export class AuditPageDto extends PageDto(AuditEntryDto) {}

export function toAuditEntryDto(row: AuditRecord): AuditEntryDto {
  return {
    log_id: row.logId,
    user_id: row.userId,
    action: row.action,
    resource_type: row.resourceType,
    resource_id: row.resourceId,
    ip_address: row.ipAddress,
    user_agent: row.userAgent,
    request_id: row.requestId,
    status: row.status,
    error_message: row.errorMessage,
    metadata: row.metadata,
    created_at: row.createdAt.toISOString(),
  };
}
