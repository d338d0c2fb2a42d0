import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { Scope } from '../common/auth/scopes';
import { keyedHash } from '../common/crypto/keyed-hash';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { AppConfig } from '../config/app-config';
import { ApiKeyAuthService } from './api-key-auth.service';
import { ApiKeyEntity } from './api-key.entity';
import { displayPrefix, generateApiKey } from './api-key.format';
import { ApiKeyDto, CreatedApiKeyDto, CreateApiKeyDto } from './dto/api-key.dto';
import { isUuid } from '../common/validation/uuid';

export const MAX_LIVE_KEYS_PER_USER = 50;
/** The key every new account gets, as the original API did (shown once, in the register response). */
export const DEFAULT_KEY_SCOPES: readonly Scope[] = [
  Scope.TasksRead,
  Scope.TasksWrite,
  Scope.NodesRead,
  Scope.NodesWrite,
  Scope.ProofsWrite,
];

export function toApiKeyDto(key: ApiKeyEntity): ApiKeyDto {
  return {
    key_id: key.keyId,
    key_prefix: key.keyPrefix,
    name: key.name,
    scopes: key.scopes,
    rate_limit_tier: key.rateLimitTier,
    expires_at: key.expiresAt?.toISOString() ?? null,
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    created_at: key.createdAt.toISOString(),
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}

@Injectable()
export class ApiKeysService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly auth: ApiKeyAuthService,
    private readonly audit: AuditService,
  ) {}

  /** Mints the default key inside the registration transaction. */
  async createDefault(userId: string, meta: RequestMeta, manager: EntityManager): Promise<string> {
    const { apiKey } = await this.insert(
      manager,
      userId,
      { name: 'default', scopes: [...DEFAULT_KEY_SCOPES], expiresAt: null },
      meta,
    );
    return apiKey;
  }

  async create(principal: Principal, dto: CreateApiKeyDto, meta: RequestMeta): Promise<CreatedApiKeyDto> {
    // A key never grants more than the credential that creates it: scopes only narrow (and admin:* needs admin).
    const beyond = dto.scopes.filter((scope) => !principal.scopes.includes(scope));
    if (beyond.length > 0)
      throw new AppException(ErrorCode.Forbidden, `You cannot grant scope: ${beyond.join(', ')}`);
    const expiresAt = dto.expires_at ? new Date(dto.expires_at) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw AppException.validation([{ field: 'expires_at', message: 'expires_at must be in the future' }]);
    }
    return this.dataSource.transaction(async (manager) => {
      // Lock the owner's row so concurrent creations cannot both pass the live-key limit.
      await manager.query(`SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE`, [principal.userId]);
      const live = await manager.count(ApiKeyEntity, {
        where: { userId: principal.userId, revokedAt: IsNull() },
      });
      if (live >= MAX_LIVE_KEYS_PER_USER) {
        throw new AppException(
          ErrorCode.Conflict,
          `At most ${MAX_LIVE_KEYS_PER_USER} live API keys per user`,
        );
      }
      const { apiKey, entity } = await this.insert(
        manager,
        principal.userId,
        { name: dto.name, scopes: dto.scopes, expiresAt },
        meta,
      );
      return { ...toApiKeyDto(entity), api_key: apiKey };
    });
  }

  async list(principal: Principal): Promise<ApiKeyDto[]> {
    const keys = await this.dataSource.manager.find(ApiKeyEntity, {
      where: { userId: principal.userId },
      order: { createdAt: 'DESC' },
      take: 200,
    });
    return keys.map(toApiKeyDto);
  }

  async get(principal: Principal, keyId: string): Promise<ApiKeyDto> {
    return toApiKeyDto(await this.owned(principal, keyId));
  }

  async revoke(principal: Principal, keyId: string, meta: RequestMeta): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const key = await this.owned(principal, keyId, manager);
      if (key.revokedAt) return;
      await manager.update(ApiKeyEntity, { keyId }, { revokedAt: () => 'now()', revokedReason: 'revoked' });
      await this.audit.record(
        {
          action: 'api_key.revoked',
          status: 'success',
          userId: principal.userId,
          resourceType: 'api_key',
          resourceId: keyId,
        },
        meta,
        manager,
      );
    });
    this.auth.forget(keyId);
  }

  async rotate(
    principal: Principal,
    keyId: string,
    graceSeconds: number,
    meta: RequestMeta,
  ): Promise<CreatedApiKeyDto> {
    const created = await this.dataSource.transaction(async (manager) => {
      const old = await this.owned(principal, keyId, manager, true);
      if (old.revokedAt || (old.expiresAt && old.expiresAt.getTime() <= Date.now())) {
        throw new AppException(ErrorCode.Conflict, 'A revoked or expired key cannot be rotated');
      }
      const { apiKey, entity } = await this.insert(
        manager,
        old.userId,
        { name: old.name, scopes: old.scopes, expiresAt: old.expiresAt, tier: old.rateLimitTier },
        meta,
        false,
      );
      if (graceSeconds === 0) {
        await manager.update(
          ApiKeyEntity,
          { keyId },
          { revokedAt: () => 'now()', revokedReason: 'rotated', replacedBy: entity.keyId },
        );
      } else {
        // The old key keeps working until the grace ends (or its own expiry, if that comes first).
        await manager.query(
          `UPDATE api_keys SET replaced_by = $2,
                  expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + make_interval(secs => $3))
            WHERE key_id = $1`,
          [keyId, entity.keyId, graceSeconds],
        );
      }
      await this.audit.record(
        {
          action: 'api_key.rotated',
          status: 'success',
          userId: principal.userId,
          resourceType: 'api_key',
          resourceId: keyId,
          metadata: { new_key_id: entity.keyId, grace_seconds: graceSeconds },
        },
        meta,
        manager,
      );
      return { ...toApiKeyDto(entity), api_key: apiKey };
    });
    this.auth.forget(keyId);
    return created;
  }

  /** Another user's key and a missing key look the same: 404, so key ids reveal nothing. */
  private async owned(
    principal: Principal,
    keyId: string,
    manager?: EntityManager,
    lock = false,
  ): Promise<ApiKeyEntity> {
    if (!isUuid(keyId)) throw AppException.notFound('API key not found');
    const query = (manager ?? this.dataSource.manager)
      .getRepository(ApiKeyEntity)
      .createQueryBuilder('k')
      .where('k.key_id = :keyId AND k.user_id = :userId', { keyId, userId: principal.userId });
    if (lock) query.setLock('pessimistic_write');
    const key = await query.getOne();
    if (!key) throw AppException.notFound('API key not found');
    return key;
  }

  private async insert(
    manager: EntityManager,
    userId: string,
    values: { name: string; scopes: Scope[]; expiresAt: Date | null; tier?: string },
    meta: RequestMeta,
    audited = true,
  ): Promise<{ apiKey: string; entity: ApiKeyEntity }> {
    const apiKey = generateApiKey();
    const result = await manager.insert(ApiKeyEntity, {
      userId,
      keyHash: keyedHash(apiKey, this.config.secrets.apiKeyPepper),
      keyPrefix: displayPrefix(apiKey),
      name: values.name,
      scopes: values.scopes,
      rateLimitTier: values.tier ?? 'general',
      expiresAt: values.expiresAt,
    });
    const keyId = (result.identifiers[0] as { keyId: string }).keyId;
    if (audited) {
      await this.audit.record(
        {
          action: 'api_key.created',
          status: 'success',
          userId,
          resourceType: 'api_key',
          resourceId: keyId,
          metadata: { name: values.name, scopes: values.scopes },
        },
        meta,
        manager,
      );
    }
    const entity = (await manager.findOneBy(ApiKeyEntity, { keyId }))!;
    return { apiKey, entity };
  }
}
