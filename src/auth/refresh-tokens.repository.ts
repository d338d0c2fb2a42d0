import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';

export type RevokedReason =
  'rotated' | 'reuse_detected' | 'logout' | 'logout_all' | 'user_disabled' | 'expired';

export interface RefreshTokenRecord {
  tokenId: string;
  userId: string;
  familyId: string;
  revokedAt: Date | null;
  revokedReason: RevokedReason | null;
  /** Whether the family's absolute expiry has passed, by the database's clock when the row was read. */
  familyExpired: boolean;
}

export interface TokenOrigin {
  /** HMAC of the token (the token itself is never stored). */
  tokenHash: string;
  deviceInfo: string | null;
  ipAddress: string | null;
}

interface TokenRow {
  token_id: string;
  user_id: string;
  family_id: string;
  revoked_at: Date | null;
  revoked_reason: RevokedReason | null;
  family_expired: boolean;
}

const COLUMNS = `token_id, user_id, family_id, revoked_at, revoked_reason, family_expires_at <= now() AS family_expired`;

function toRecord(row: TokenRow): RefreshTokenRecord {
  return {
    tokenId: row.token_id,
    userId: row.user_id,
    familyId: row.family_id,
    revokedAt: row.revoked_at,
    revokedReason: row.revoked_reason,
    familyExpired: row.family_expired,
  };
}

/** The refresh_tokens table, in plain SQL. Expiry is stamped and judged by the database's clock. */
@Injectable()
export class RefreshTokensRepository {
  constructor(private readonly db: DatabaseSession) {}

  async findByHash(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const [row] = await this.db.query<TokenRow>(
      `SELECT ${COLUMNS} FROM refresh_tokens WHERE token_hash = $1`,
      [tokenHash],
    );
    return row ? toRecord(row) : null;
  }

  /** Locks the row for the rest of the current transaction. */
  async findByHashForUpdate(tokenHash: string): Promise<RefreshTokenRecord | null> {
    const [row] = await this.db.query<TokenRow>(
      `SELECT ${COLUMNS} FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`,
      [tokenHash],
    );
    return row ? toRecord(row) : null;
  }

  /** The first token of a new family, which expires (absolutely) `ttlDays` from now (one `now()`: both equal). */
  async insertFamilyHead(
    userId: string,
    familyId: string,
    ttlDays: number,
    origin: TokenOrigin,
  ): Promise<void> {
    await this.db.execute(
      `INSERT INTO refresh_tokens (user_id, family_id, parent_id, token_hash, expires_at, family_expires_at,
         device_info, ip_address)
       VALUES ($1, $2, NULL, $3, now() + make_interval(days => $4), now() + make_interval(days => $4), $5, $6)`,
      [userId, familyId, origin.tokenHash, ttlDays, origin.deviceInfo, origin.ipAddress],
    );
  }

  /** The successor of `parentId`: same user and family, and the family's expiry copied, never extended. */
  async insertSuccessor(parentId: string, origin: TokenOrigin): Promise<void> {
    await this.db.execute(
      `INSERT INTO refresh_tokens (user_id, family_id, parent_id, token_hash, expires_at, family_expires_at,
         device_info, ip_address)
       SELECT user_id, family_id, token_id, $2, family_expires_at, family_expires_at, $3, $4::inet
         FROM refresh_tokens WHERE token_id = $1`,
      [parentId, origin.tokenHash, origin.deviceInfo, origin.ipAddress],
    );
  }

  async markRotated(tokenId: string): Promise<void> {
    await this.db.execute(
      `UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = 'rotated' WHERE token_id = $1`,
      [tokenId],
    );
  }

  /** Revokes the family's live tokens; returns how many. */
  async revokeFamily(familyId: string, reason: RevokedReason): Promise<number> {
    const { affected } = await this.db.execute(
      `UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = $2
        WHERE family_id = $1 AND revoked_at IS NULL`,
      [familyId, reason],
    );
    return affected;
  }

  /** Revokes every live token of the user; returns how many. */
  async revokeAllForUser(userId: string, reason: RevokedReason): Promise<number> {
    const { affected } = await this.db.execute(
      `UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = $2
        WHERE user_id = $1 AND revoked_at IS NULL`,
      [userId, reason],
    );
    return affected;
  }
}
