import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { neutralize } from '../audit/sanitize';
import { keyedHash, randomToken } from '../common/crypto/keyed-hash';
import { AppConfig } from '../config/app-config';
import type { RequestMeta } from '../common/auth/principal';
import { RefreshTokenEntity, RevokedReason } from './refresh-token.entity';

export const REFRESH_TOKEN_PREFIX = 'rt_';

export type RotationResult =
  | { kind: 'rotated'; userId: string; refreshToken: string }
  | { kind: 'invalid' }
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
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  hash(token: string): string {
    return keyedHash(token, this.config.secrets.refreshTokenPepper);
  }

  /** Starts a new family for a fresh login. */
  async issueFamily(userId: string, meta: RequestMeta, manager: EntityManager): Promise<string> {
    const familyExpiresAt = new Date(Date.now() + this.config.auth.refreshTokenTtlDays * 86_400_000);
    return this.insert(manager, { userId, familyId: randomUUID(), parentId: null, familyExpiresAt }, meta);
  }

  async rotate(presented: string, meta: RequestMeta): Promise<RotationResult> {
    if (!presented.startsWith(REFRESH_TOKEN_PREFIX)) return { kind: 'invalid' };
    const tokenHash = this.hash(presented);
    // Decided and written in one transaction, with the token row locked: of N concurrent refreshes with one
    // token, exactly one sees it live. The others see it rotated, which is a replay.
    return this.dataSource.transaction(async (manager) => {
      const current = await manager
        .getRepository(RefreshTokenEntity)
        .createQueryBuilder('t')
        .setLock('pessimistic_write')
        .where('t.token_hash = :tokenHash', { tokenHash })
        .getOne();
      if (!current) return { kind: 'invalid' } as const;

      if (current.revokedAt) {
        if (current.revokedReason !== 'rotated') return { kind: 'invalid' } as const;
        const revoked = await this.revokeFamily(current.familyId, 'reuse_detected', manager);
        await this.audit.record(
          {
            action: 'auth.refresh_reuse_detected',
            status: 'denied',
            userId: current.userId,
            resourceType: 'refresh_token_family',
            resourceId: current.familyId,
            metadata: { revoked_tokens: revoked },
          },
          meta,
          manager,
        );
        return { kind: 'reuse_detected', userId: current.userId } as const;
      }

      if (current.familyExpiresAt.getTime() <= Date.now()) {
        await this.revokeFamily(current.familyId, 'expired', manager);
        return { kind: 'invalid' } as const;
      }
      const [owner] = await manager.query<{ disabled: boolean }[]>(
        `SELECT disabled_at IS NOT NULL AS disabled FROM users WHERE user_id = $1`,
        [current.userId],
      );
      if (!owner || owner.disabled) {
        await this.revokeFamily(current.familyId, 'user_disabled', manager);
        return { kind: 'invalid' } as const;
      }

      await manager.update(RefreshTokenEntity, { tokenId: current.tokenId }, {
        revokedAt: () => 'now()',
        revokedReason: 'rotated',
      } as never);
      const refreshToken = await this.insert(
        manager,
        {
          userId: current.userId,
          familyId: current.familyId,
          parentId: current.tokenId,
          familyExpiresAt: current.familyExpiresAt,
        },
        meta,
      );
      await this.audit.record(
        {
          action: 'auth.refresh',
          status: 'success',
          userId: current.userId,
          resourceType: 'refresh_token_family',
          resourceId: current.familyId,
        },
        meta,
        manager,
      );
      return { kind: 'rotated', userId: current.userId, refreshToken } as const;
    });
  }

  /** Logout: revokes the family of the presented token. Returns its owner when the token was known. */
  async revokeFamilyOf(presented: string, meta: RequestMeta): Promise<string | null> {
    if (!presented.startsWith(REFRESH_TOKEN_PREFIX)) return null;
    return this.dataSource.transaction(async (manager) => {
      const token = await manager.findOneBy(RefreshTokenEntity, { tokenHash: this.hash(presented) });
      if (!token) return null;
      const revoked = await this.revokeFamily(token.familyId, 'logout', manager);
      await this.audit.record(
        {
          action: 'auth.logout',
          status: 'success',
          userId: token.userId,
          resourceType: 'refresh_token_family',
          resourceId: token.familyId,
          metadata: { revoked_tokens: revoked },
        },
        meta,
        manager,
      );
      return token.userId;
    });
  }

  /** Revokes every live token of the user (logout-all, account disabled). */
  async revokeAllForUser(userId: string, reason: RevokedReason, manager: EntityManager): Promise<number> {
    const result = await manager.update(
      RefreshTokenEntity,
      { userId, revokedAt: IsNull() },
      {
        revokedAt: () => 'now()',
        revokedReason: reason,
      },
    );
    return result.affected ?? 0;
  }

  private async revokeFamily(
    familyId: string,
    reason: RevokedReason,
    manager: EntityManager,
  ): Promise<number> {
    const result = await manager.update(
      RefreshTokenEntity,
      { familyId, revokedAt: IsNull() },
      {
        revokedAt: () => 'now()',
        revokedReason: reason,
      },
    );
    return result.affected ?? 0;
  }

  private async insert(
    manager: EntityManager,
    values: { userId: string; familyId: string; parentId: string | null; familyExpiresAt: Date },
    meta: RequestMeta,
  ): Promise<string> {
    const token = randomToken(REFRESH_TOKEN_PREFIX, 32);
    await manager.insert(RefreshTokenEntity, {
      ...values,
      tokenHash: this.hash(token),
      expiresAt: values.familyExpiresAt,
      deviceInfo: meta.userAgent ? neutralize(meta.userAgent).slice(0, 255) : null,
      ipAddress: meta.ip,
    });
    return token;
  }
}
