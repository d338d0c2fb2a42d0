import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';

export interface ThrottleOverrideRecord {
  overrideId: string;
  subjectType: string;
  subjectId: string;
  tier: string | null;
  rpm: number | null;
  burst: number | null;
  expiresAt: Date;
  createdBy: string | null;
  createdAt: Date;
}

export type NewThrottleOverride = Omit<ThrottleOverrideRecord, 'overrideId' | 'createdAt'>;

/** An override in force, with how long it has left by the database's clock. */
export interface ActiveOverrideRecord extends ThrottleOverrideRecord {
  expiresInMs: number;
}

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

const COLUMNS = `override_id, subject_type, subject_id, tier, rpm, burst, expires_at, created_by, created_at`;

function toRecord(row: OverrideRow): ThrottleOverrideRecord {
  return {
    overrideId: row.override_id,
    subjectType: row.subject_type,
    subjectId: row.subject_id,
    tier: row.tier,
    rpm: row.rpm,
    burst: row.burst,
    expiresAt: row.expires_at,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

/** The throttle_overrides table, in plain SQL. Whether an override is in force is judged by the database. */
@Injectable()
export class ThrottleOverridesRepository {
  constructor(private readonly db: DatabaseSession) {}

  async insert(override: NewThrottleOverride): Promise<ThrottleOverrideRecord> {
    const [row] = await this.db.query<OverrideRow>(
      `INSERT INTO throttle_overrides (subject_type, subject_id, tier, rpm, burst, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [
        override.subjectType,
        override.subjectId,
        override.tier,
        override.rpm,
        override.burst,
        override.expiresAt,
        override.createdBy,
      ],
    );
    return toRecord(row);
  }

  /** Overrides in force, newest first. */
  async listActive(limit: number): Promise<ThrottleOverrideRecord[]> {
    const rows = await this.db.query<OverrideRow>(
      `SELECT ${COLUMNS} FROM throttle_overrides WHERE expires_at > now() ORDER BY created_at DESC LIMIT $1`,
      [limit],
    );
    return rows.map(toRecord);
  }

  /** Overrides in force, each with the time it has left. */
  async active(limit: number): Promise<ActiveOverrideRecord[]> {
    const rows = await this.db.query<OverrideRow & { expires_in_ms: number }>(
      `SELECT ${COLUMNS}, (EXTRACT(EPOCH FROM expires_at - now()) * 1000)::float8 AS expires_in_ms
         FROM throttle_overrides WHERE expires_at > now() LIMIT $1`,
      [limit],
    );
    return rows.map((row) => ({ ...toRecord(row), expiresInMs: row.expires_in_ms }));
  }

  /**
   * Whether the user or API key an override names exists: an override for a mistyped id would do nothing.
   * (Rate limiting sits below the users and keys modules, so it reads their tables here.)
   */
  async subjectExists(subjectType: 'user' | 'api_key', subjectId: string): Promise<boolean> {
    const sql =
      subjectType === 'user'
        ? `SELECT 1 FROM users WHERE user_id = $1`
        : `SELECT 1 FROM api_keys WHERE key_id = $1`;
    return (await this.db.query(sql, [subjectId])).length > 0;
  }

  /**
   * Serialises override changes of one subject until the transaction ends, so two concurrent requests cannot
   * both find none in force and both insert one. (On the embedded database transactions already take turns.)
   */
  async lockSubject(subjectType: string, subjectId: string): Promise<void> {
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtextextended('vcp.throttle_override:' || $1, 0))`, [
      `${subjectType}:${subjectId}`,
    ]);
  }

  /** The override in force for a subject, if any. */
  async findActive(subjectType: string, subjectId: string): Promise<ThrottleOverrideRecord | null> {
    const [row] = await this.db.query<OverrideRow>(
      `SELECT ${COLUMNS} FROM throttle_overrides
        WHERE subject_type = $1 AND subject_id = $2 AND expires_at > now() LIMIT 1`,
      [subjectType, subjectId],
    );
    return row ? toRecord(row) : null;
  }

  /** False when there was no such override. */
  async delete(overrideId: string): Promise<boolean> {
    const { affected } = await this.db.execute(`DELETE FROM throttle_overrides WHERE override_id = $1`, [
      overrideId,
    ]);
    return affected > 0;
  }
}
