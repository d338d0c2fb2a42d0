import { Injectable } from '@nestjs/common';
import type { Role } from '../common/auth/scopes';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { cursorTime, pageTime } from '../common/pagination/cursor';
import { DatabaseSession } from '../database/transaction-runner';

export interface UserRecord {
  userId: string;
  username: string;
  email: string | null;
  passwordHash: string;
  role: Role;
  createdAt: Date;
  updatedAt: Date;
  lastLogin: Date | null;
  disabledAt: Date | null;
  /** The generation access tokens must carry (see the AccessTokenEpoch migration). */
  accessTokenEpoch: number;
}

export interface UserPageCursor {
  createdAt: string;
  userId: string;
}

interface UserRow {
  user_id: string;
  username: string;
  email: string | null;
  password_hash: string;
  role: Role;
  created_at: Date;
  updated_at: Date;
  last_login: Date | null;
  disabled_at: Date | null;
  access_token_epoch: number;
}

const COLUMNS = `user_id, username, email, password_hash, role, created_at, updated_at, last_login, disabled_at,
  access_token_epoch`;

function toRecord(row: UserRow): UserRecord {
  return {
    userId: row.user_id,
    username: row.username,
    email: row.email,
    passwordHash: row.password_hash,
    role: row.role,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastLogin: row.last_login,
    disabledAt: row.disabled_at,
    accessTokenEpoch: row.access_token_epoch,
  };
}

/**
 * The password "hash" of the server's own accounts (the embedded nodes' owners, `system_embedded_<n>`): not a
 * bcrypt hash, so no password ever matches it, and no account created through the API can have it.
 */
export const SYSTEM_ACCOUNT_PASSWORD_HASH = '!embedded-node-system-account';

/** An account the server runs (see SYSTEM_ACCOUNT_PASSWORD_HASH); nobody can log in as it. */
export function isSystemAccount(user: Pick<UserRecord, 'passwordHash'>): boolean {
  return user.passwordHash === SYSTEM_ACCOUNT_PASSWORD_HASH;
}

const UNIQUE_VIOLATION = '23505';

/** The answer to a unique violation on users, for registration and an admin's new account alike. */
export const usernameTaken = () => new AppException(ErrorCode.Conflict, 'That username or email is taken');

export function isUniqueViolation(error: unknown): boolean {
  return (
    (error as { driverError?: { code?: string }; code?: string })?.driverError?.code === UNIQUE_VIOLATION
  );
}

/** The users table, in plain SQL. Records out; controllers map them to response DTOs. */
@Injectable()
export class UsersRepository {
  constructor(private readonly db: DatabaseSession) {}

  /** Usernames are unique regardless of case; lookups follow the same rule (the index is on lower()). */
  async findByUsername(username: string): Promise<UserRecord | null> {
    return this.one(`SELECT ${COLUMNS} FROM users WHERE lower(username) = lower($1)`, [username]);
  }

  /**
   * Serialises, until the transaction ends, whatever looks a username up and then creates it (the admin
   * bootstrap of replicas booting together). (On the embedded database transactions already take turns.)
   */
  async lockUsername(username: string): Promise<void> {
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtextextended('vcp.username:' || lower($1), 0))`, [
      username,
    ]);
  }

  async findById(userId: string): Promise<UserRecord | null> {
    return this.one(`SELECT ${COLUMNS} FROM users WHERE user_id = $1`, [userId]);
  }

  /** Locks the row for the rest of the current transaction. */
  async findByIdForUpdate(userId: string): Promise<UserRecord | null> {
    return this.one(`SELECT ${COLUMNS} FROM users WHERE user_id = $1 FOR UPDATE`, [userId]);
  }

  async create(values: {
    username: string;
    passwordHash: string;
    email: string | null;
    role?: Role;
  }): Promise<UserRecord> {
    const [row] = await this.db.query<UserRow>(
      `INSERT INTO users (username, password_hash, email, role) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
      [values.username, values.passwordHash, values.email, values.role ?? 'user'],
    );
    return toRecord(row);
  }

  async recordLogin(userId: string): Promise<void> {
    await this.db.execute(`UPDATE users SET last_login = now() WHERE user_id = $1`, [userId]);
  }

  /**
   * Raises the account's access-token epoch, so that every access token issued before (carrying the previous
   * epoch, checked in JwtStrategy) stops working; returns the new epoch.
   */
  async cutAccessTokens(userId: string): Promise<number> {
    const [row] = await this.db.query<{ access_token_epoch: number }>(
      `UPDATE users SET access_token_epoch = access_token_epoch + 1, updated_at = now() WHERE user_id = $1
       RETURNING access_token_epoch`,
      [userId],
    );
    return row?.access_token_epoch ?? 0;
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<void> {
    await this.db.execute(`UPDATE users SET password_hash = $2, updated_at = now() WHERE user_id = $1`, [
      userId,
      passwordHash,
    ]);
  }

  /** `disabled: true` stamps disabled_at with the database's time; false clears it; undefined leaves it. */
  async update(userId: string, changes: { role?: Role; disabled?: boolean }): Promise<UserRecord | null> {
    return this.one(
      `UPDATE users
          SET role = COALESCE($2, role),
              disabled_at = CASE WHEN $3::boolean IS NULL THEN disabled_at
                                 WHEN $3::boolean THEN COALESCE(disabled_at, now())
                                 ELSE NULL END,
              updated_at = now()
        WHERE user_id = $1
        RETURNING ${COLUMNS}`,
      [userId, changes.role ?? null, changes.disabled ?? null],
    );
  }

  /**
   * Active admins other than `exceptUserId`, locking their rows so two demotions cannot race past the check.
   * System accounts never count: nobody can log in as them, so they could not stand in for the last admin.
   */
  async lockOtherActiveAdmins(exceptUserId: string): Promise<number> {
    const rows = await this.db.query(
      `SELECT user_id FROM users
        WHERE role = 'admin' AND disabled_at IS NULL AND user_id <> $1 AND password_hash <> $2
          FOR UPDATE`,
      [exceptUserId, SYSTEM_ACCOUNT_PASSWORD_HASH],
    );
    return rows.length;
  }

  /**
   * Keyset pagination by (created_at, user_id): stable under inserts, no OFFSET scans. Times compare at
   * millisecond precision, the precision a cursor carries through JavaScript.
   */
  async page(limit: number, after: UserPageCursor | null): Promise<UserRecord[]> {
    const sortKey = pageTime('created_at');
    const rows = after
      ? await this.db.query<UserRow>(
          `SELECT ${COLUMNS} FROM users WHERE (${sortKey}, user_id) > (${cursorTime('$2')}, $3::uuid)
            ORDER BY ${sortKey}, user_id LIMIT $1`,
          [limit, after.createdAt, after.userId],
        )
      : await this.db.query<UserRow>(`SELECT ${COLUMNS} FROM users ORDER BY ${sortKey}, user_id LIMIT $1`, [
          limit,
        ]);
    return rows.map(toRecord);
  }

  private async one(sql: string, parameters: unknown[]): Promise<UserRecord | null> {
    const [row] = await this.db.query<UserRow>(sql, parameters);
    return row ? toRecord(row) : null;
  }
}
