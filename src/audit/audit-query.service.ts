import { Injectable } from '@nestjs/common';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor';
import { AuditFilters, AuditLogRepository, AuditRecord } from './audit-log.repository';

export type { AuditFilters } from './audit-log.repository';

export interface AuditPage {
  items: AuditRecord[];
  nextCursor: string | null;
}

/** Reads the audit log newest first, with keyset pagination on (created_at, log_id). */
@Injectable()
export class AuditQueryService {
  constructor(private readonly auditLog: AuditLogRepository) {}

  async page(filters: AuditFilters, limit: number, cursor: string | undefined): Promise<AuditPage> {
    const after = decodeCursor(cursor);
    const rows = await this.auditLog.page(
      filters,
      limit + 1,
      after ? { createdAt: after.t, logId: after.id } : null,
    );
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items,
      nextCursor:
        rows.length > limit && last
          ? encodeCursor({ t: last.createdAt.toISOString(), id: last.logId })
          : null,
    };
  }
}
