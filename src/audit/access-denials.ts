import { Injectable, Logger } from '@nestjs/common';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { Clock } from '../common/clock/clock';
import { AuditAction } from './audit-actions';
import { AuditRowBudget } from './audit-row-budget';
import { AuditService } from './audit.service';

/** At most this many rows per user per minute; the rest are counted into the next row. */
const ROWS_PER_MINUTE = 10;

/**
 * Audits a signed-in user who is not an admin calling an admin route: an attempt at privilege escalation an
 * operator wants to see, unlike an admin route's ordinary 401s. Rate-limited per user, so a script hammering
 * admin routes cannot flood the table.
 */
@Injectable()
export class AccessDenialAudit {
  private readonly logger = new Logger('AccessDenialAudit');
  private readonly budget: AuditRowBudget;

  constructor(
    private readonly audit: AuditService,
    clock: Clock,
  ) {
    this.budget = new AuditRowBudget(ROWS_PER_MINUTE, () => clock.nowMs());
  }

  adminRouteDenied(principal: Principal, route: string, meta: RequestMeta): void {
    const suppressed = this.budget.take(principal.userId);
    if (suppressed === null) return;
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
