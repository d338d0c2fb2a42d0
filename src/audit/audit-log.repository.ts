import { Injectable } from '@nestjs/common';
import { cursorTime, pageTime } from '../common/pagination/cursor';
import { DatabaseSession } from '../database/transaction-runner';

export type AuditStatus = 'success' | 'failure' | 'denied';

export interface NewAuditRecord {
  userId: string | null;
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  requestId: string | null;
  status: AuditStatus;
  errorMessage: string | null;
  metadata: Record<string, unknown> | null;
}

export interface AuditRecord extends NewAuditRecord {
  logId: string;
  createdAt: Date;
}

export interface AuditFilters {
  action?: string;
  userId?: string;
  resourceType?: string;
  resourceId?: string;
  from?: string;
  to?: string;
}

interface AuditRow {
  log_id: string;
  user_id: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  request_id: string | null;
  status: AuditStatus;
  error_message: string | null;
  metadata: Record<string, unknown> | null;
  created_at: Date;
}

const COLUMNS = `log_id, user_id, action, resource_type, resource_id, ip_address, user_agent, request_id, status,
  error_message, metadata, created_at`;

function toRecord(row: AuditRow): AuditRecord {
  return {
    logId: row.log_id,
    userId: row.user_id,
    action: row.action,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    ipAddress: row.ip_address,
    userAgent: row.user_agent,
    requestId: row.request_id,
    status: row.status,
    errorMessage: row.error_message,
    metadata: row.metadata,
    createdAt: row.created_at,
  };
}

/** The audit_log table, in plain SQL. Rows are only ever inserted and read. */
@Injectable()
export class AuditLogRepository {
  constructor(private readonly db: DatabaseSession) {}

  async insert(entry: NewAuditRecord): Promise<void> {
    // Prepared once per connection: audited writes (every submission, say) skip planning this insert.
    await this.db.queryPrepared(
      'vcp_audit_insert',
      `INSERT INTO audit_log (user_id, action, resource_type, resource_id, ip_address, user_agent, request_id,
         status, error_message, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)`,
      [
        entry.userId,
        entry.action,
        entry.resourceType,
        entry.resourceId,
        entry.ipAddress,
        entry.userAgent,
        entry.requestId,
        entry.status,
        entry.errorMessage,
        entry.metadata === null ? null : JSON.stringify(entry.metadata),
      ],
    );
  }

  /**
   * Newest first, keyset-paginated on (created_at, log_id): the rows strictly before `before`. Times compare
   * at millisecond precision, the precision a cursor carries through JavaScript.
   */
  async page(
    filters: AuditFilters,
    limit: number,
    before: { createdAt: string; logId: string } | null,
  ): Promise<AuditRecord[]> {
    const sortKey = pageTime('created_at');
    const conditions: string[] = [];
    const parameters: unknown[] = [limit];
    const where = (condition: (placeholder: string) => string, value: unknown) => {
      parameters.push(value);
      conditions.push(condition(`$${parameters.length}`));
    };
    if (filters.action) where((p) => `action = ${p}`, filters.action);
    if (filters.userId) where((p) => `user_id = ${p}`, filters.userId);
    // On idx_audit_log_resource: what happened to an account, a key, a node (user_id is who did it).
    if (filters.resourceType) where((p) => `resource_type = ${p}`, filters.resourceType);
    if (filters.resourceId) where((p) => `resource_id = ${p}`, filters.resourceId);
    // At millisecond precision, as rows show their time: `to` = a row's own created_at includes that row. On the
    // column itself (not pageTime), so idx_audit_log_created_at still serves the range.
    const ms = (p: string) => `date_trunc('milliseconds', ${p}::timestamptz)`;
    if (filters.from) where((p) => `created_at >= ${ms(p)}`, filters.from);
    if (filters.to) where((p) => `created_at < ${ms(p)} + interval '1 millisecond'`, filters.to);
    if (before) {
      parameters.push(before.createdAt, before.logId);
      const n = parameters.length;
      conditions.push(`(${sortKey}, log_id) < (${cursorTime(`$${n - 1}`)}, $${n}::uuid)`);
    }
    const rows = await this.db.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_log ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
        ORDER BY ${sortKey} DESC, log_id DESC LIMIT $1`,
      parameters,
    );
    return rows.map(toRecord);
  }
}
