import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor';
import { AuditLogEntity } from './audit-log.entity';

export interface AuditFilters {
  action?: string;
  userId?: string;
  from?: string;
  to?: string;
}

export interface AuditPage {
  items: AuditLogEntity[];
  nextCursor: string | null;
}

/** Reads the audit log newest first, with keyset pagination on (created_at, log_id). */
@Injectable()
export class AuditQueryService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async page(filters: AuditFilters, limit: number, cursor: string | undefined): Promise<AuditPage> {
    const after = decodeCursor(cursor);
    const sortKey = `date_trunc('milliseconds', a.created_at)`;
    const query = this.dataSource
      .getRepository(AuditLogEntity)
      .createQueryBuilder('a')
      .orderBy(sortKey, 'DESC')
      .addOrderBy('a.log_id', 'DESC')
      .limit(limit + 1);
    if (filters.action) query.andWhere('a.action = :action', { action: filters.action });
    if (filters.userId) query.andWhere('a.user_id = :userId', { userId: filters.userId });
    if (filters.from) query.andWhere('a.created_at >= :from::timestamptz', { from: filters.from });
    if (filters.to) query.andWhere('a.created_at <= :to::timestamptz', { to: filters.to });
    if (after)
      query.andWhere(`(${sortKey}, a.log_id) < (:t::timestamptz, :id::uuid)`, { t: after.t, id: after.id });
    const rows = await query.getMany();
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
