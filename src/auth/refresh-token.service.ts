import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditAction } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import { neutralize } from '../common/text/sanitize';
import { keyedHash, randomToken } from '../common/crypto/keyed-hash';
import { TransactionRunner } from '../database/transaction-runner';
import { UsersRepository } from '../users/users.repository';
import type { RequestMeta } from '../common/auth/principal';
import { AuthConfig } from './auth.config';
import { RefreshTokensRepository, RevokedReason, TokenOrigin } from './refresh-tokens.repository';

export const REFRESH_TOKEN_PREFIX = 'rt_';

/** Why a refresh token was refused (the audit row's errorMessage). */
export type RefreshRefusal = 'unknown_token' | 'revoked_token' | 'family_expired' | 'user_disabled';

export type RotationResult =
  | { kind: 'rotated'; userId: string; refreshToken: string }
  | { kind: 'invalid'; reason: RefreshRefusal; userId?: string; familyId?: string }
  | { kind: 'reuse_detected'; userId: string };

/**
 * Opaque refresh tokens in families (one per login), stored only as HMAC-SHA256 under REFRESH_TOKEN_PEPPER.
 * Rotation marks the presented token used and issues its successor; presenting a used token again means it
 * was stolen or replayed, so the whole family dies (RFC 9700 §4.14.2). A family's absolute expiry is set at
 * login and inherited by every successor, so rotation never extends it.
 */
@Injectable()
export class RefreshTokenService {
  constructor(
    private readonly tokens: RefreshTokensRepository,
    private readonly users: UsersRepository,
    private readonly transactions: TransactionRunner,
    private readonly config: AuthConfig,
    private readonly audit: AuditService,
  ) {}

  hash(token: string): string {
    return keyedHash(token, this.config.refreshTokenPepper);
  }

  /** Starts a new family for a fresh login (joins the caller's transaction). */
  async issueFamily(userId: string, meta: RequestMeta): Promise<string> {
    const token = randomToken(REFRESH_TOKEN_PREFIX, 32);
    await this.tokens.insertFamilyHead(
      userId,
      randomUUID(),
      this.config.refreshTokenTtlDays,
      this.origin(token, meta),
    );
    return token;
  }

  async rotate(presented: string, meta: RequestMeta): Promise<RotationResult> {
    if (!presented.startsWith(REFRESH_TOKEN_PREFIX)) return { kind: 'invalid', reason: 'unknown_token' };
    const tokenHash = this.hash(presented);
    // Decided and written in one transaction, with the token row locked: of N concurrent refreshes with one
    // token, exactly one sees it live. The others see it rotated, which is a replay.
    return this.transactions.run(async () => {
      const current = await this.tokens.findByHashForUpdate(tokenHash);
      if (!current) return { kind: 'invalid', reason: 'unknown_token' } as const;
      const refused = (reason: RefreshRefusal) =>
        ({ kind: 'invalid', reason, userId: current.userId, familyId: current.familyId }) as const;

      if (current.revokedAt) {
        if (current.revokedReason !== 'rotated') return refused('revoked_token');
        const revoked = await this.tokens.revokeFamily(current.familyId, 'reuse_detected');
        // A replayed refresh token means one copy is in the wrong hands, and nobody can tell whose access
        // tokens are whose: every access token of the account is cut with the family.
        await this.users.cutAccessTokens(current.userId);
        await this.audit.record(
          {
            action: AuditAction.AuthRefreshReuseDetected,
            status: 'denied',
            userId: current.userId,
            resourceType: 'refresh_token_family',
            resourceId: current.familyId,
            metadata: { revoked_tokens: revoked },
          },
          meta,
        );
        return { kind: 'reuse_detected', userId: current.userId } as const;
      }

      if (current.familyExpired) {
        await this.tokens.revokeFamily(current.familyId, 'expired');
        return refused('family_expired');
      }
      const owner = await this.users.findById(current.userId);
      if (!owner || owner.disabledAt) {
        await this.tokens.revokeFamily(current.familyId, 'user_disabled');
        return refused('user_disabled');
      }

      await this.tokens.markRotated(current.tokenId);
      const refreshToken = randomToken(REFRESH_TOKEN_PREFIX, 32);
      await this.tokens.insertSuccessor(current.tokenId, this.origin(refreshToken, meta));
      await this.audit.record(
        {
          action: AuditAction.AuthRefresh,
          status: 'success',
          userId: current.userId,
          resourceType: 'refresh_token_family',
          resourceId: current.familyId,
        },
        meta,
      );
      return { kind: 'rotated', userId: current.userId, refreshToken } as const;
    });
  }

  /**
   * Logout: revokes the family of the presented token. Returns its owner when a live session was ended, null
   * when the token was unknown or its family had already ended (nothing done, nothing audited).
   */
  async revokeFamilyOf(presented: string, meta: RequestMeta): Promise<string | null> {
    if (!presented.startsWith(REFRESH_TOKEN_PREFIX)) return null;
    return this.transactions.run(async () => {
      const token = await this.tokens.findByHash(this.hash(presented));
      if (!token) return null;
      const revoked = await this.tokens.revokeFamily(token.familyId, 'logout');
      // A family already ended (logged out, logout-all, reuse, expiry) had no session to end: an audit row
      // would tell the reader that a login was ended now, by whoever replayed the dead token.
      if (revoked === 0) return null;
      await this.audit.record(
        {
          action: AuditAction.AuthLogout,
          status: 'success',
          userId: token.userId,
          resourceType: 'refresh_token_family',
          resourceId: token.familyId,
          // A used (rotated-away) token still ends its live family, as a detected reuse would; marked so.
          metadata: token.revokedAt
            ? { revoked_tokens: revoked, stale_token: true }
            : { revoked_tokens: revoked },
        },
        meta,
      );
      return token.userId;
    });
  }

  /**
   * Ends every session of the account (logout-all, a password changed or reset, the account disabled): its live
   * refresh tokens are revoked and its access tokens cut off. Joins the caller's transaction; the caller then
   * invalidates UserStatusCache so that this replica refuses the old access tokens at once.
   */
  async endSessions(
    userId: string,
    reason: RevokedReason,
  ): Promise<{ revokedTokens: number; accessTokenEpoch: number }> {
    const revokedTokens = await this.tokens.revokeAllForUser(userId, reason);
    const accessTokenEpoch = await this.users.cutAccessTokens(userId);
    return { revokedTokens, accessTokenEpoch };
  }

  private origin(token: string, meta: RequestMeta): TokenOrigin {
    return {
      tokenHash: this.hash(token),
      deviceInfo: meta.userAgent ? neutralize(meta.userAgent).slice(0, 255) : null,
      ipAddress: meta.ip,
    };
  }
}
