import { AppException } from '../common/errors/app.exception';
import type { RequestMeta } from '../common/auth/principal';
import type { AuditEvent, AuditService } from './audit.service';

/**
 * Thrown inside a transaction that refuses a change, carrying the refusal's audit rows: written in that
 * transaction they would vanish with its rollback, so keepingRefusals writes them after it.
 */
export class AuditedRefusal extends Error {
  constructor(
    readonly error: AppException,
    readonly events: readonly AuditEvent[],
  ) {
    super(error.message);
  }
}

/**
 * Runs `work` (typically `transactions.run(...)`); an AuditedRefusal it throws has its rows recorded once the
 * transaction is over, and its own error thrown in its place.
 */
export async function keepingRefusals<T>(
  audit: Pick<AuditService, 'record'>,
  meta: RequestMeta | null,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof AuditedRefusal)) throw error;
    for (const event of error.events) await audit.record(event, meta);
    throw error.error;
  }
}
