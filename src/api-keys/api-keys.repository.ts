import { Injectable } from '@nestjs/common';
import type { Role, Scope } from '../common/auth/scopes';
import { cursorTime, KeysetCursor, pageTime } from '../common/pagination/cursor';
import { DatabaseSession } from '../database/transaction-runner';

export type ApiKeyRevokedReason = 'revoked' | 'rotated' | 'owner_deleted' | 'node_deleted' | 'node_rejected';

export interface ApiKeyRecord {
  keyId: string;
  userId: string;
  keyPrefix: string;
  name: string;
  scopes: Scope[];
  rateLimitTier: string;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
  revokedAt: Date | null;
  /** The key that replaces this one (a rotation); set while a rotated key is in its grace period. */
  replacedBy: string | null;
  /** Whether `expiresAt` has passed, by the database's clock when the row was read. */
  expired: boolean;
}

export interface NewApiKey {
  userId: string;
  /** HMAC-SHA256 (hex) of the whole key under API_KEY_PEPPER; the key itself is never stored. */
  keyHash: string;
  keyPrefix: string;
  name: string;
  scopes: Scope[];
  rateLimitTier: string;
  expiresAt: Date | null;
  /** Set for a node key: the node whose credential it is. */
  nodeId?: string | null;
}

/** What authentication needs of a key and its owner, in one read. */
export interface KeyCredential {
  keyId: string;
  scopes: Scope[];
  rateLimitTier: string;
  revoked: boolean;
  /** Milliseconds until the key expires by the database's clock (≤ 0: expired); null: never expires. */
  expiresInMs: number | null;
  expiresAt: Date | null;
  /** The key that replaces this one, while it is in a rotation's grace period. */
  replacedBy: string | null;
  userId: string;
  username: string;
  role: Role;
  ownerDisabled: boolean;
  /** The node a node key is bound to; null for a user's key. */
  nodeId: string | null;
}

interface KeyRow {
  key_id: string;
  user_id: string;
  key_prefix: string;
  name: string;
  scopes: Scope[];
  rate_limit_tier: string;
  expires_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
  revoked_at: Date | null;
  replaced_by: string | null;
  expired: boolean;
}

/**
 * A key that still authenticates. A rotation or a revocation touches only these: a key whose grace already
 * ended keeps the successor and the history it had (it was replaced then, not by the newest key).
 */
const LIVE = `revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`;

const COLUMNS = `key_id, user_id, key_prefix, name, scopes, rate_limit_tier, expires_at, last_used_at, created_at,
  revoked_at, replaced_by, COALESCE(expires_at <= now(), false) AS expired`;

function toRecord(row: KeyRow): ApiKeyRecord {
  return {
    keyId: row.key_id,
    userId: row.user_id,
    keyPrefix: row.key_prefix,
    name: row.name,
    scopes: row.scopes,
    rateLimitTier: row.rate_limit_tier,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    replacedBy: row.replaced_by,
    expired: row.expired,
  };
}

/** The api_keys table, in plain SQL. Expiry is judged by the database's clock. */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly db: DatabaseSession) {}

  async insert(key: NewApiKey): Promise<ApiKeyRecord> {
    const [row] = await this.db.query<KeyRow>(
      `INSERT INTO api_keys (user_id, key_hash, key_prefix, name, scopes, rate_limit_tier, expires_at, node_id)
       VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8)
       RETURNING ${COLUMNS}`,
      [
        key.userId,
        key.keyHash,
        key.keyPrefix,
        key.name,
        key.scopes,
        key.rateLimitTier,
        key.expiresAt,
        key.nodeId ?? null,
      ],
    );
    return toRecord(row);
  }

  /**
   * A user's own keys that still authenticate: not revoked, not expired (a key in a rotation's grace period
   * counts until the grace ends, which is its `expires_at`). Node keys are the node's and do not count.
   */
  async countLive(userId: string): Promise<number> {
    const [{ n }] = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1 AND node_id IS NULL AND ${LIVE}`,
      [userId],
    );
    return n;
  }

  /**
   * The user's keys: every live one, newest first, then the newest revoked or expired ones up to `limit` keys in
   * all (live keys are never cut: the cap keeps them far below it). One statement, so one now() decides which
   * are live. Node keys are managed through their node and not listed.
   */
  async listForUser(userId: string, limit: number): Promise<ApiKeyRecord[]> {
    const rows = await this.db.query<KeyRow>(
      `WITH live AS (
         SELECT ${COLUMNS} FROM api_keys WHERE user_id = $1 AND node_id IS NULL AND ${LIVE}
       ), past AS (
         SELECT ${COLUMNS} FROM api_keys WHERE user_id = $1 AND node_id IS NULL AND NOT (${LIVE})
          ORDER BY created_at DESC, key_id DESC
          LIMIT GREATEST($2::int - (SELECT count(*) FROM live), 0)
       )
       SELECT * FROM (SELECT * FROM live UNION ALL SELECT * FROM past) k
        ORDER BY revoked_at IS NULL AND NOT expired DESC, created_at DESC, key_id DESC`,
      [userId, limit],
    );
    return rows.map(toRecord);
  }

  /** The key if `userId` owns it; `forUpdate` locks it for the rest of the current transaction. */
  async findOwned(keyId: string, userId: string, forUpdate = false): Promise<ApiKeyRecord | null> {
    const [row] = await this.db.query<KeyRow>(
      `SELECT ${COLUMNS} FROM api_keys WHERE key_id = $1 AND user_id = $2 AND node_id IS NULL
        ${forUpdate ? 'FOR UPDATE' : ''}`,
      [keyId, userId],
    );
    return row ? toRecord(row) : null;
  }

  /** false: the key was already revoked (its first revocation, time and reason, stand). */
  async revoke(
    keyId: string,
    reason: ApiKeyRevokedReason,
    replacedBy: string | null = null,
  ): Promise<boolean> {
    const { affected } = await this.db.execute(
      `UPDATE api_keys SET revoked_at = now(), revoked_reason = $2, replaced_by = COALESCE($3, replaced_by)
        WHERE key_id = $1 AND revoked_at IS NULL`,
      [keyId, reason, replacedBy],
    );
    return affected > 0;
  }

  /** The old key keeps working until the grace ends (or its own expiry, if that comes first). */
  async retireAfterGrace(keyId: string, replacedBy: string, graceSeconds: number): Promise<void> {
    await this.db.execute(
      `UPDATE api_keys SET replaced_by = $2,
              expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + make_interval(secs => $3))
        WHERE key_id = $1`,
      [keyId, replacedBy, graceSeconds],
    );
  }

  async findCredential(keyHash: string): Promise<KeyCredential | null> {
    const [row] = await this.db.query<{
      key_id: string;
      scopes: Scope[];
      rate_limit_tier: string;
      revoked: boolean;
      expires_in_ms: number | null;
      expires_at: Date | null;
      replaced_by: string | null;
      user_id: string;
      username: string;
      role: Role;
      disabled: boolean;
      node_id: string | null;
    }>(
      `SELECT k.key_id, k.node_id, k.scopes, k.rate_limit_tier, k.revoked_at IS NOT NULL AS revoked,
              (EXTRACT(EPOCH FROM k.expires_at - now()) * 1000)::float8 AS expires_in_ms,
              k.expires_at, k.replaced_by,
              u.user_id, u.username, u.role, u.disabled_at IS NOT NULL AS disabled
         FROM api_keys k JOIN users u ON u.user_id = k.user_id
        WHERE k.key_hash = $1`,
      [keyHash],
    );
    if (!row) return null;
    return {
      keyId: row.key_id,
      scopes: row.scopes,
      rateLimitTier: row.rate_limit_tier,
      revoked: row.revoked,
      expiresInMs: row.expires_in_ms,
      expiresAt: row.expires_at,
      replacedBy: row.replaced_by,
      userId: row.user_id,
      username: row.username,
      role: row.role,
      ownerDisabled: row.disabled,
      nodeId: row.node_id,
    };
  }

  async touchLastUsed(keyId: string): Promise<void> {
    await this.db.execute(`UPDATE api_keys SET last_used_at = now() WHERE key_id = $1`, [keyId]);
  }

  /** True when the node has live keys and none of them has been used yet. */
  async nodeKeysUnused(nodeId: string): Promise<boolean> {
    const [row] = await this.db.query<{ live: number; used: number }>(
      `SELECT count(*)::int AS live, count(last_used_at)::int AS used FROM api_keys
        WHERE node_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [nodeId],
    );
    return row !== undefined && row.live > 0 && row.used === 0;
  }

  /**
   * A node's keys, newest first, revoked and expired ones included (the node's key history), one page after
   * `after`. Matches idx_api_keys_node_page (migrations/20261203120000-NodeKeyPages.ts).
   */
  async listNodeKeys(nodeId: string, after: KeysetCursor | null, fetch: number): Promise<ApiKeyRecord[]> {
    const rows = await this.db.query<KeyRow>(
      `SELECT ${COLUMNS} FROM api_keys
        WHERE node_id = $1
          AND ($2::timestamptz IS NULL OR (${pageTime('created_at')}, key_id) < (${cursorTime('$2')}, $3::uuid))
        ORDER BY ${pageTime('created_at')} DESC, key_id DESC
        LIMIT $4`,
      [nodeId, after?.t ?? null, after?.id ?? null, fetch],
    );
    return rows.map(toRecord);
  }

  /** Revokes a node's live keys (all, or all but `except`); returns the revoked ids. */
  async revokeNodeKeys(
    nodeId: string,
    reason: ApiKeyRevokedReason,
    except: string | null = null,
  ): Promise<string[]> {
    const rows = await this.db.query<{ key_id: string }>(
      `UPDATE api_keys SET revoked_at = now(), revoked_reason = $2, replaced_by = COALESCE($3, replaced_by)
        WHERE node_id = $1 AND ${LIVE} AND key_id IS DISTINCT FROM $3::uuid
        RETURNING key_id`,
      [nodeId, reason, except],
    );
    return rows.map((row) => row.key_id);
  }

  /** A node's other live keys keep working for `graceSeconds` more (or until their own expiry, if sooner). */
  async retireNodeKeysAfterGrace(
    nodeId: string,
    replacedBy: string,
    graceSeconds: number,
  ): Promise<{ keyIds: string[]; expiresAt: Date | null }> {
    const rows = await this.db.query<{ key_id: string; expires_at: Date }>(
      `UPDATE api_keys SET replaced_by = $2,
              expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + make_interval(secs => $3))
        WHERE node_id = $1 AND ${LIVE} AND key_id <> $2
        RETURNING key_id, expires_at`,
      [nodeId, replacedBy, graceSeconds],
    );
    const latest = rows.reduce<Date | null>(
      (max, row) => (max === null || row.expires_at > max ? row.expires_at : max),
      null,
    );
    return { keyIds: rows.map((row) => row.key_id), expiresAt: latest };
  }
}
