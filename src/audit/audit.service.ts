import { Injectable, Logger } from '@nestjs/common';
import type { RequestMeta } from '../common/auth/principal';
import type { AuditAction } from './audit-actions';
import { AuditLogRepository, AuditStatus, NewAuditRecord } from './audit-log.repository';
import { neutralize, neutralizeDeep } from './sanitize';

export interface AuditEvent {
  action: AuditAction;
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
 * unrecorded: callers let it fail the request. Called inside `TransactionRunner.run`, the row is part of that
 * transaction: it commits or rolls back with the change it describes.
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(private readonly auditLog: AuditLogRepository) {}

  async record(event: AuditEvent, meta: RequestMeta | null): Promise<void> {
    const row: NewAuditRecord = {
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
    await this.auditLog.insert(row);
    this.logger.log({
      audit: row.action,
      status: row.status,
      user_id: row.userId,
      resource: row.resourceType ? `${row.resourceType}:${row.resourceId ?? ''}` : undefined,
      request_id: row.requestId,
    });
  }
}
