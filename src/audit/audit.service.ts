import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { RequestMeta } from '../common/auth/principal';
import { AuditLogEntity, AuditStatus } from './audit-log.entity';
import { neutralize, neutralizeDeep } from './sanitize';

export interface AuditEvent {
  action: string;
  status: AuditStatus;
  userId?: string | null;
  resourceType?: string;
  resourceId?: string;
  errorMessage?: string;
  metadata?: Record<string, unknown>;
}

const clip = (text: string | null | undefined, max: number) => (text ? neutralize(text).slice(0, max) : null);

/**
 * Writes audit rows. `record` throws when the row cannot be written, so a security event is never silently
 * unrecorded: callers let it fail the request. Pass the transaction's manager to make the row part of it.
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async record(event: AuditEvent, meta: RequestMeta | null, manager?: EntityManager): Promise<void> {
    const row: Partial<AuditLogEntity> = {
      action: event.action,
      status: event.status,
      userId: event.userId ?? null,
      resourceType: event.resourceType ?? null,
      resourceId: clip(event.resourceId, 128),
      ipAddress: meta?.ip ?? null,
      userAgent: clip(meta?.userAgent, 512),
      requestId: meta?.requestId ?? null,
      errorMessage: clip(event.errorMessage, 1000),
      metadata: event.metadata ? (neutralizeDeep(event.metadata) as Record<string, unknown>) : null,
    };
    await (manager ?? this.dataSource.manager).getRepository(AuditLogEntity).insert(row as never);
    this.logger.log({
      audit: row.action,
      status: row.status,
      user_id: row.userId,
      resource: row.resourceType ? `${row.resourceType}:${row.resourceId ?? ''}` : undefined,
      request_id: row.requestId,
    });
  }
}
