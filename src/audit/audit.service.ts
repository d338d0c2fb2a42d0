import { Injectable, Logger, Optional } from '@nestjs/common';
import type { RequestMeta } from '../common/auth/principal';
import type { AuditAction } from './audit-actions';
import { AuditLogRepository, AuditStatus, NewAuditRecord } from './audit-log.repository';
import { neutralize, neutralizeDeep } from '../common/text/sanitize';
import { RequestLogger } from '../logging/request-logger';
import { containsCredential } from '../common/auth/credentials-in-url';

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

  constructor(
    private readonly auditLog: AuditLogRepository,
    // Absent in tests that build the audit module without the app's logging.
    @Optional() private readonly lines?: RequestLogger,
  ) {}

  async record(event: AuditEvent, meta: RequestMeta | null): Promise<void> {
    const row = this.row(event, meta);
    await this.auditLog.insert(row);
    this.written(row);
  }

  /**
   * The row `record` would write, for a repository that writes it in the same statement as the change it
   * describes (a submission: task and audit row in one atomic statement, no transaction). Call `written` once
   * that statement succeeded.
   */
  row(event: AuditEvent, meta: RequestMeta | null): NewAuditRecord {
    // "Which script did this?": a change made with an API key names the key, so a leaked one can be traced.
    const metadata = meta?.apiKeyId ? { api_key_id: meta.apiKeyId, ...event.metadata } : event.metadata;
    return {
      action: event.action,
      status: event.status,
      userId: event.userId ?? null,
      resourceType: event.resourceType ?? null,
      resourceId: clip(event.resourceId, 128),
      ipAddress: meta?.ip ?? null,
      // As in the request log: a User-Agent holding a key or token (a script that put one there) is not kept.
      userAgent:
        meta?.userAgent && containsCredential(meta.userAgent) ? '[redacted]' : clip(meta?.userAgent, 512),
      requestId: meta?.requestId ?? null,
      errorMessage: clip(event.errorMessage, 1000),
      metadata: metadata ? (neutralizeDeep(metadata) as Record<string, unknown>) : null,
    };
  }

  /** The log line of a stored audit row. */
  written(row: NewAuditRecord): void {
    const line = {
      audit: row.action,
      status: row.status,
      user_id: row.userId,
      resource: row.resourceType ? `${row.resourceType}:${row.resourceId ?? ''}` : undefined,
      request_id: row.requestId,
    };
    // Known fields, none a credential (the row is neutralized): no redaction pass needed.
    if (this.lines) this.lines.plainLine('Audit', line);
    else this.logger.log(line);
  }
}
