import { Injectable } from '@nestjs/common';
import { pageTime } from '../common/pagination/cursor';
import { DatabaseSession } from '../database/transaction-runner';

/**
 * Deletes of rows nothing can use any more, at most `batch` per statement, judged by the database's clock.
 * The rows are chosen once (an ARRAY(…) or a materialized CTE: `IN (SELECT … LIMIT n)` may be re-run by the
 * planner and delete more than n) and deleted by key, so replicas pruning at once delete each row once.
 */
@Injectable()
export class RetentionRepository {
  constructor(private readonly db: DatabaseSession) {}

  /** Idempotency keys past their expiry: lookups ignore them and a new claim would replace them anyway. */
  async pruneIdempotencyKeys(batch: number): Promise<number> {
    const { affected } = await this.db.execute(
      // Checked again on the row itself: a claim that replaced the key since the choice (READ COMMITTED
      // re-reads the updated row) made it live, and it must stay.
      `WITH dead AS MATERIALIZED (
         SELECT user_id, idempotency_key FROM task_idempotency_keys WHERE expires_at <= now() LIMIT $1)
       DELETE FROM task_idempotency_keys k USING dead
        WHERE k.user_id = dead.user_id AND k.idempotency_key = dead.idempotency_key AND k.expires_at <= now()`,
      [batch],
    );
    return affected;
  }

  /**
   * Tokens of families whose absolute lifetime ended more than `graceDays` ago. Only whole dead families go:
   * a rotated token of a live family must stay, since finding it is how a replay is detected. A token of a
   * deleted family is then merely unknown, and refused as such.
   */
  async pruneRefreshTokens(graceDays: number, batch: number): Promise<number> {
    const { affected } = await this.db.execute(
      // expires_at <= family_expires_at (a CHECK), so the expires_at index narrows the scan to candidates.
      `DELETE FROM refresh_tokens WHERE token_id = ANY (ARRAY(
         SELECT token_id FROM refresh_tokens
          WHERE expires_at < now() - make_interval(days => $1)
            AND family_expires_at < now() - make_interval(days => $1)
          LIMIT $2))`,
      [graceDays, batch],
    );
    return affected;
  }

  /**
   * Audit rows older than `days`, compared on the page index's sort key so that index serves the scan; a row
   * truncated below the truncated cutoff is strictly older than the cutoff itself.
   */
  async pruneAuditLog(days: number, batch: number): Promise<number> {
    const { affected } = await this.db.execute(
      `DELETE FROM audit_log WHERE log_id = ANY (ARRAY(
         SELECT log_id FROM audit_log
          WHERE ${pageTime('created_at')} < date_trunc('milliseconds', (now() - make_interval(days => $1)) AT TIME ZONE 'UTC')
          LIMIT $2))`,
      [days, batch],
    );
    return affected;
  }
}
