import { Injectable } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { Page, pageRequest, toPage } from '../common/pagination/page';
import { AuditFilters, AuditLogRepository } from './audit-log.repository';
import { AuditEntryDto, toAuditEntryDto } from './dto/audit-log.dto';

export type { AuditFilters } from './audit-log.repository';

/** Reads the audit log newest first, with keyset pagination on (created_at, log_id). */
@Injectable()
export class AuditQueryService {
  constructor(private readonly auditLog: AuditLogRepository) {}

  async page(
    filters: AuditFilters,
    query: { limit?: number; cursor?: string },
  ): Promise<Page<AuditEntryDto>> {
    // An empty page would read as "nothing happened": a window that ends before it starts is a mistake.
    if (filters.from && filters.to && Date.parse(filters.from) > Date.parse(filters.to)) {
      throw AppException.invalidField('to', 'must not be before from');
    }
    const request = pageRequest(query);
    const after = request.after;
    const rows = await this.auditLog.page(
      filters,
      request.fetch,
      after ? { createdAt: after.t, logId: after.id } : null,
    );
    return toPage(
      rows,
      request,
      (row) => ({ t: row.createdAt.toISOString(), id: row.logId }),
      toAuditEntryDto,
    );
  }
}
