import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import ipaddr from 'ipaddr.js';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { CreateThrottleOverrideDto, ThrottleOverrideDto } from './dto/throttle-override.dto';
import { isUuid } from '../common/validation/uuid';

interface OverrideRow {
  override_id: string;
  subject_type: string;
  subject_id: string;
  tier: string | null;
  rpm: number | null;
  burst: number | null;
  expires_at: Date;
  created_by: string | null;
  created_at: Date;
}

export interface ActiveOverride {
  tier: string | null;
  rpm: number | null;
  burst: number | null;
  expiresAt: number;
}

/** Overrides made on another replica apply here within this time (the limit is 5 s). */
export const OVERRIDES_REFRESH_MS = 2000;

const toDto = (row: OverrideRow): ThrottleOverrideDto => ({
  override_id: row.override_id,
  subject_type: row.subject_type,
  subject_id: row.subject_id,
  tier: row.tier,
  rpm: row.rpm,
  burst: row.burst,
  expires_at: row.expires_at.toISOString(),
  created_by: row.created_by,
  created_at: row.created_at.toISOString(),
});

/** Admin overrides, read by the throttler from an in-memory snapshot refreshed every 2 s. */
@Injectable()
export class ThrottleOverridesService {
  private snapshot = new Map<string, ActiveOverride>();
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  /** The override for a subject (`user:<id>`, `api_key:<id>`, `ip:<addr>`), if one is active. */
  async find(subjects: string[]): Promise<ActiveOverride | null> {
    if (Date.now() - this.loadedAt >= OVERRIDES_REFRESH_MS) await this.refresh();
    const now = Date.now();
    for (const subject of subjects) {
      const override = this.snapshot.get(subject);
      if (override && override.expiresAt > now) return override;
    }
    return null;
  }

  async create(
    actor: Principal,
    dto: CreateThrottleOverrideDto,
    meta: RequestMeta,
  ): Promise<ThrottleOverrideDto> {
    const expiresAt = new Date(dto.expires_at);
    const problems: { field: string; message: string }[] = [];
    if (expiresAt.getTime() <= Date.now())
      problems.push({ field: 'expires_at', message: 'expires_at must be in the future' });
    if (!dto.tier && dto.rpm === undefined && dto.burst === undefined) {
      problems.push({ field: 'tier', message: 'give a tier, rpm or burst' });
    }
    const subjectId = this.normalizeSubject(dto.subject_type, dto.subject_id, problems);
    if (problems.length > 0) throw AppException.validation(problems);
    const row = await this.dataSource.transaction(async (manager) => {
      const [created] = await manager.query<OverrideRow[]>(
        `INSERT INTO throttle_overrides (subject_type, subject_id, tier, rpm, burst, expires_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [
          dto.subject_type,
          subjectId,
          dto.tier ?? null,
          dto.rpm ?? null,
          dto.burst ?? null,
          expiresAt,
          actor.userId,
        ],
      );
      await this.audit.record(
        {
          action: 'admin.throttle_override_created',
          status: 'success',
          userId: actor.userId,
          resourceType: 'throttle_override',
          resourceId: created.override_id,
          metadata: {
            subject: `${dto.subject_type}:${subjectId}`,
            tier: dto.tier,
            rpm: dto.rpm,
            burst: dto.burst,
          },
        },
        meta,
        manager,
      );
      return created;
    });
    this.loadedAt = 0; // this replica sees it at once
    return toDto(row);
  }

  async list(): Promise<ThrottleOverrideDto[]> {
    const rows = await this.dataSource.query<OverrideRow[]>(
      `SELECT * FROM throttle_overrides WHERE expires_at > now() ORDER BY created_at DESC LIMIT 500`,
    );
    return rows.map(toDto);
  }

  async remove(actor: Principal, overrideId: string, meta: RequestMeta): Promise<void> {
    if (!isUuid(overrideId)) throw AppException.notFound('Override not found');
    await this.dataSource.transaction(async (manager) => {
      const deleted = await manager.query<unknown[]>(
        `DELETE FROM throttle_overrides WHERE override_id = $1 RETURNING override_id`,
        [overrideId],
      );
      const rows = Array.isArray(deleted[0]) ? (deleted[0] as unknown[]) : deleted;
      if (rows.length === 0) throw AppException.notFound('Override not found');
      await this.audit.record(
        {
          action: 'admin.throttle_override_deleted',
          status: 'success',
          userId: actor.userId,
          resourceType: 'throttle_override',
          resourceId: overrideId,
        },
        meta,
        manager,
      );
    });
    this.loadedAt = 0;
  }

  private normalizeSubject(type: string, id: string, problems: { field: string; message: string }[]): string {
    if (type === 'ip') {
      // Stored in the same canonical form the throttler sees (IPv4-mapped IPv6 becomes IPv4).
      if (!ipaddr.isValid(id))
        problems.push({ field: 'subject_id', message: 'subject_id must be an IP address' });
      else return canonicalIp(id);
    } else if (!isUuid(id)) {
      problems.push({
        field: 'subject_id',
        message: `subject_id must be a ${type === 'user' ? 'user' : 'key'} id`,
      });
    }
    return id.toLowerCase();
  }

  private refresh(): Promise<void> {
    this.loading ??= this.dataSource
      .query<OverrideRow[]>(`SELECT * FROM throttle_overrides WHERE expires_at > now() LIMIT 10000`)
      .then((rows) => {
        this.snapshot = new Map(
          rows.map((r) => [
            `${r.subject_type}:${r.subject_id}`,
            { tier: r.tier, rpm: r.rpm, burst: r.burst, expiresAt: r.expires_at.getTime() },
          ]),
        );
        this.loadedAt = Date.now();
      })
      .finally(() => (this.loading = null));
    return this.loading;
  }
}

/** One spelling per address, so `::ffff:10.0.0.1` and `10.0.0.1` are the same client. */
export function canonicalIp(address: string): string {
  const parsed = ipaddr.process(address);
  return parsed.toNormalizedString();
}
