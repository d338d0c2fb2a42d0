import { Injectable, Logger } from '@nestjs/common';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { Clock } from '../common/clock/clock';
import { AuditAction } from './audit-actions';
import { AuditService } from './audit.service';

/** At most this many rows per user per minute; the rest are counted into the next row. */
const ROWS_PER_MINUTE = 10;
const MAX_USERS = 10_000;

/**
 * Audits a signed-in user who is not an admin calling an admin route: an attempt at privilege escalation an
 * operator wants to see, unlike an admin route's ordinary 401s. Rate-limited per user, so a script hammering
 * admin routes cannot flood the table.
 */
@Injectable()
export class AccessDenialAudit {
  private readonly logger = new Logger('AccessDenialAudit');
  private readonly windows = new Map<string, { start: number; written: number; suppressed: number }>();

  constructor(
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  adminRouteDenied(principal: Principal, route: string, meta: RequestMeta): void {
    const now = this.clock.nowMs();
    let window = this.windows.get(principal.userId);
    if (!window || now - window.start >= 60_000) {
      if (this.windows.size >= MAX_USERS) this.windows.clear();
      window = { start: now, written: 0, suppressed: window?.suppressed ?? 0 };
      this.windows.set(principal.userId, window);
    }
    if (window.written >= ROWS_PER_MINUTE) {
      window.suppressed += 1;
      return;
    }
    window.written += 1;
    const suppressed = window.suppressed;
    window.suppressed = 0;
    this.audit
      .record(
        {
          action: AuditAction.AuthAdminAccessDenied,
          status: 'denied',
          userId: principal.userId,
          errorMessage: 'not an admin',
          metadata: {
            route,
            ...(principal.keyId ? { api_key_id: principal.keyId } : {}),
            ...(suppressed ? { suppressed_since_last: suppressed } : {}),
          },
        },
        meta,
      )
      .catch((error: unknown) => this.logger.error(`could not audit a denied admin call: ${String(error)}`));
  }
}
