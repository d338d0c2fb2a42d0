import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';

export interface IdempotencyRecord {
  requestHash: string;
  taskId: string;
}

/** Idempotency keys of task submissions: (user, key) → the task its first request created, for 24 h. */
@Injectable()
export class IdempotencyKeysRepository {
  constructor(private readonly db: DatabaseSession) {}

  async findLive(userId: string, key: string): Promise<IdempotencyRecord | null> {
    const [row] = await this.db.query<{ request_hash: string; task_id: string }>(
      `SELECT request_hash, task_id FROM task_idempotency_keys
        WHERE user_id = $1 AND idempotency_key = $2 AND expires_at > now()`,
      [userId, key],
    );
    return row ? { requestHash: row.request_hash, taskId: row.task_id } : null;
  }

  /**
   * Claims the key for a task, replacing an expired claim. false: a live claim exists (a concurrent request
   * with the same key won), and the caller's transaction must roll back and read that one.
   */
  async claim(
    userId: string,
    key: string,
    requestHash: string,
    taskId: string,
    ttlSecs: number,
  ): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO task_idempotency_keys (user_id, idempotency_key, request_hash, task_id, expires_at)
       VALUES ($1, $2, $3, $4, now() + $5::int * interval '1 second')
       ON CONFLICT (user_id, idempotency_key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, task_id = EXCLUDED.task_id, expires_at = EXCLUDED.expires_at
         WHERE task_idempotency_keys.expires_at <= now()
       RETURNING task_id`,
      [userId, key, requestHash, taskId, ttlSecs],
    );
    return rows.length > 0;
  }
}
