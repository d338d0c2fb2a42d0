import { Injectable } from '@nestjs/common';
import { IntervalSweep } from '../common/concurrency/interval-sweep';
import type { RetentionTable } from '../metrics/metric-labels';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { RetentionConfig } from './retention.config';
import { RetentionRepository } from './retention.repository';

/** Rows per delete statement, so one sweep never holds long locks. */
export const RETENTION_BATCH = 500;
/** Most delete statements per table and sweep; a larger backlog is worked off over the next sweeps. */
export const MAX_RETENTION_ROUNDS = 20;
/**
 * A refresh-token family is deleted this long after its absolute expiry, not at once: until then a token of it
 * is still refused as `family_expired` (and audited so) rather than as unknown.
 */
const REFRESH_FAMILY_GRACE_DAYS = 1;

export type RetentionReport = Record<RetentionTable, number>;

/**
 * Deletes what nothing can use any more: expired task idempotency keys, refresh tokens of families long
 * expired, and (only when AUDIT_LOG_RETENTION_DAYS is set) old audit rows. On every replica, no leader: each
 * delete is conditional on the database's clock and bounded, so replicas sweeping at once delete each row once.
 */
@Injectable()
export class RetentionSweeper extends IntervalSweep {
  constructor(
    private readonly rows: RetentionRepository,
    private readonly config: RetentionConfig,
    private readonly metrics: VcpMetrics,
  ) {
    super('Retention');
  }

  protected get intervalMs(): number {
    return this.config.sweepIntervalMs;
  }

  async sweep(): Promise<RetentionReport> {
    const auditDays = this.config.auditLogRetentionDays;
    const report: RetentionReport = {
      task_idempotency_keys: await this.prune('task_idempotency_keys', (batch) =>
        this.rows.pruneIdempotencyKeys(batch),
      ),
      refresh_tokens: await this.prune('refresh_tokens', (batch) =>
        this.rows.pruneRefreshTokens(REFRESH_FAMILY_GRACE_DAYS, batch),
      ),
      audit_log:
        auditDays === null
          ? 0
          : await this.prune('audit_log', (batch) => this.rows.pruneAuditLog(auditDays, batch)),
    };
    if (Object.values(report).some((count) => count > 0)) this.logger.log({ msg: 'rows pruned', ...report });
    return report;
  }

  private async prune(
    table: RetentionTable,
    deleteBatch: (batch: number) => Promise<number>,
  ): Promise<number> {
    let pruned = 0;
    for (let round = 0; round < MAX_RETENTION_ROUNDS; round++) {
      const deleted = await deleteBatch(RETENTION_BATCH);
      pruned += deleted;
      this.metrics.rowsPruned(table, deleted);
      if (deleted < RETENTION_BATCH) break;
    }
    return pruned;
  }
}
