import { Injectable } from '@nestjs/common';
import { isIP } from 'node:net';
import { clientSubject } from './client-subject';
import { AuditAction } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { Clock } from '../common/clock/clock';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { isUuid } from '../common/validation/uuid';
import { DatabaseClock } from '../database/database-clock';
import { TransactionRunner } from '../database/transaction-runner';
import {
  CreateThrottleOverrideDto,
  ThrottleOverrideDto,
  toThrottleOverrideDto,
} from './dto/throttle-override.dto';
import { ThrottleOverridesRepository } from './throttle-overrides.repository';

export interface ActiveOverride {
  tier: string | null;
  rpm: number | null;
  burst: number | null;
  /** On this replica's clock: the database's remaining time, counted down from when the snapshot was read. */
  expiresAt: number;
}

/** Overrides made on another replica apply here within this time (the limit is 5 s). */
export const OVERRIDES_REFRESH_MS = 2000;

/** Admin overrides, read by the throttler from an in-memory snapshot refreshed every 2 s. */
@Injectable()
export class ThrottleOverridesService {
  private snapshot = new Map<string, ActiveOverride>();
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly overrides: ThrottleOverridesRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly databaseClock: DatabaseClock,
  ) {}

  /** The override for a subject (`user:<id>`, `api_key:<id>`, `ip:<addr>`), if one is active. */
  async find(subjects: string[]): Promise<ActiveOverride | null> {
    if (this.clock.nowMs() - this.loadedAt >= OVERRIDES_REFRESH_MS) await this.refresh();
    const now = this.clock.nowMs();
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
    if (!(await this.databaseClock.isFuture(expiresAt)))
      problems.push({ field: 'expires_at', message: 'expires_at must be in the future' });
    if (!dto.tier && dto.rpm === undefined && dto.burst === undefined) {
      problems.push({ field: 'tier', message: 'give a tier, rpm or burst' });
    }
    const subjectId = this.normalizeSubject(dto.subject_type, dto.subject_id, problems);
    if (problems.length > 0) throw AppException.validation(problems);
    if (dto.subject_type !== 'ip' && !(await this.overrides.subjectExists(dto.subject_type, subjectId))) {
      const what = dto.subject_type === 'user' ? 'user' : 'API key';
      throw AppException.invalidField('subject_id', `no ${what} has this id`);
    }
    const record = await this.transactions.run(async () => {
      await this.overrides.lockSubject(dto.subject_type, subjectId);
      // Two overrides of one subject would leave which one applies to chance: one at a time.
      const existing = await this.overrides.findActive(dto.subject_type, subjectId);
      if (existing) {
        throw new AppException(
          ErrorCode.Conflict,
          `An override for this subject is in force (${existing.overrideId}): delete it first`,
          { reason: ErrorReason.ThrottleOverrideExists, extra: { override_id: existing.overrideId } },
        );
      }
      const created = await this.overrides.insert({
        subjectType: dto.subject_type,
        subjectId,
        tier: dto.tier ?? null,
        rpm: dto.rpm ?? null,
        burst: dto.burst ?? null,
        expiresAt,
        createdBy: actor.userId,
      });
      await this.audit.record(
        {
          action: AuditAction.AdminThrottleOverrideCreated,
          status: 'success',
          userId: actor.userId,
          resourceType: 'throttle_override',
          resourceId: created.overrideId,
          metadata: {
            subject: `${dto.subject_type}:${subjectId}`,
            tier: dto.tier,
            rpm: dto.rpm,
            burst: dto.burst,
          },
        },
        meta,
      );
      return created;
    });
    this.loadedAt = 0; // this replica sees it at once
    return toThrottleOverrideDto(record);
  }

  /** Audited like the other admin reads (users listed, audit log viewed). */
  async list(actor: Principal, meta: RequestMeta): Promise<ThrottleOverrideDto[]> {
    const overrides = await this.overrides.listActive(500);
    await this.audit.record(
      { action: AuditAction.AdminThrottleOverridesListed, status: 'success', userId: actor.userId },
      meta,
    );
    return overrides.map(toThrottleOverrideDto);
  }

  async remove(actor: Principal, overrideId: string, meta: RequestMeta): Promise<void> {
    await this.transactions.run(async () => {
      if (!(await this.overrides.delete(overrideId))) throw AppException.notFound('Override not found');
      await this.audit.record(
        {
          action: AuditAction.AdminThrottleOverrideDeleted,
          status: 'success',
          userId: actor.userId,
          resourceType: 'throttle_override',
          resourceId: overrideId,
        },
        meta,
      );
    });
    this.loadedAt = 0;
  }

  private normalizeSubject(type: string, id: string, problems: { field: string; message: string }[]): string {
    if (type === 'ip') {
      // Stored as the subject the throttler counts (clientSubject): IPv4-mapped IPv6 as IPv4, IPv6 as its /64 —
      // stored as the full IPv6 address, an override never matched the /64 looked up, so it never applied.
      if (!isStandardIp(id))
        problems.push({
          field: 'subject_id',
          message: 'subject_id must be an IPv4 address in dotted-quad decimal or an IPv6 address',
        });
      else return clientSubject(id);
    } else if (!isUuid(id)) {
      problems.push({
        field: 'subject_id',
        message: `subject_id must be a ${type === 'user' ? 'user' : 'key'} id`,
      });
    }
    return id.toLowerCase();
  }

  private refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => (this.loading = null));
    return this.loading;
  }

  private async load(): Promise<void> {
    const readAt = this.clock.nowMs();
    const records = await this.overrides.active(10_000);
    this.snapshot = new Map(
      records.map((r) => [
        `${r.subjectType}:${r.subjectId}`,
        { tier: r.tier, rpm: r.rpm, burst: r.burst, expiresAt: readAt + r.expiresInMs },
      ]),
    );
    // As old as the read, not its answer: a slow read would otherwise stretch the 2 s by its own duration.
    this.loadedAt = readAt;
  }
}

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const DOTTED_QUAD = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

/**
 * Dotted-quad decimal IPv4 (no leading zeros) or standard IPv6 text, without a zone. An override names the
 * address an admin means: inet_aton forms ("0x7f.1", "127.1", "5", octal "010.0.0.1") would silently become
 * another address, and a zone never appears in a client address, so such an override could never apply.
 */
export function isStandardIp(text: string): boolean {
  const version = isIP(text);
  if (version === 4) return DOTTED_QUAD.test(text);
  return version === 6 && !text.includes('%');
}
