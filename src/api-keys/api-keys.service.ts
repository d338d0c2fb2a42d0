import { Injectable } from '@nestjs/common';
import { AuditAction } from '../audit/audit-actions';
import { AuditedRefusal, keepingRefusals } from '../audit/audited-refusal';
import { AuditEvent, AuditService } from '../audit/audit.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { Scope } from '../common/auth/scopes';
import { keyedHash } from '../common/crypto/keyed-hash';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { DatabaseClock } from '../database/database-clock';
import { TransactionRunner } from '../database/transaction-runner';
import { UsersRepository } from '../users/users.repository';
import { ApiKeyAuthService } from './api-key-auth.service';
import { displayPrefix, generateApiKey } from './api-key.format';
import { ApiKeysConfig } from './api-keys.config';
import { ApiKeyRecord, ApiKeysRepository } from './api-keys.repository';
import {
  ApiKeyDto,
  CreatedApiKeyDto,
  CreateApiKeyDto,
  toApiKeyDto,
  toCreatedApiKeyDto,
} from './dto/api-key.dto';

export const MAX_LIVE_KEYS_PER_USER = 50;
/** How many keys the list holds at most: every live key, then the newest revoked or expired ones. */
export const LISTED_KEYS = 200;
/** The key every new account gets, as the original API did (shown once, in the register response). */
export const DEFAULT_KEY_SCOPES: readonly Scope[] = [
  Scope.TasksRead,
  Scope.TasksWrite,
  Scope.NodesRead,
  Scope.NodesWrite,
  Scope.ProofsWrite,
];

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly users: UsersRepository,
    private readonly transactions: TransactionRunner,
    private readonly config: ApiKeysConfig,
    private readonly auth: ApiKeyAuthService,
    private readonly audit: AuditService,
    private readonly databaseClock: DatabaseClock,
  ) {}

  /** Mints the default key; called inside the registration transaction, which it joins. */
  async createDefault(userId: string, meta: RequestMeta): Promise<string> {
    const { apiKey } = await this.insert(
      userId,
      { name: 'default', scopes: [...DEFAULT_KEY_SCOPES], expiresAt: null },
      meta,
    );
    return apiKey;
  }

  async create(principal: Principal, dto: CreateApiKeyDto, meta: RequestMeta): Promise<CreatedApiKeyDto> {
    // A key never grants more than the credential that creates it: scopes only narrow (and admin:* needs admin).
    const beyond = dto.scopes.filter((scope) => !principal.scopes.includes(scope));
    if (beyond.length > 0) {
      await this.audit.record(escalation(AuditAction.ApiKeyCreated, principal, null, beyond), meta);
      throw new AppException(ErrorCode.Forbidden, `You cannot grant scope: ${beyond.join(', ')}`);
    }
    const requested = dto.expires_at ? new Date(dto.expires_at) : null;
    if (requested && !(await this.databaseClock.isFuture(requested))) {
      throw AppException.validation([{ field: 'expires_at', message: 'expires_at must be in the future' }]);
    }
    // Security: a key never outlives the key that creates it, else a key meant to last ten minutes, leaked,
    // could leave keys behind that last for ever. Unset, it ends with its creator; later is refused.
    const creatorEnd = await this.creatingKeyEnd(principal);
    if (requested && creatorEnd && requested > creatorEnd) {
      throw AppException.validation([
        {
          field: 'expires_at',
          message: `expires_at must not be later than the end of the API key making this request (${creatorEnd.toISOString()})`,
        },
      ]);
    }
    const expiresAt = requested ?? creatorEnd;
    return this.transactions.run(async () => {
      // Lock the owner's row so concurrent creations cannot both pass the live-key limit.
      await this.users.findByIdForUpdate(principal.userId);
      await this.assertRoomForAnotherKey(principal.userId);
      const { apiKey, record } = await this.insert(
        principal.userId,
        { name: dto.name, scopes: dto.scopes, expiresAt },
        meta,
      );
      return toCreatedApiKeyDto(record, apiKey);
    });
  }

  async list(principal: Principal): Promise<ApiKeyDto[]> {
    return (await this.keys.listForUser(principal.userId, LISTED_KEYS)).map(toApiKeyDto);
  }

  async get(principal: Principal, keyId: string): Promise<ApiKeyDto> {
    return toApiKeyDto(await this.owned(principal, keyId));
  }

  async revoke(principal: Principal, keyId: string, meta: RequestMeta): Promise<void> {
    await this.transactions.run(async () => {
      const key = await this.owned(principal, keyId);
      if (key.revokedAt) return;
      // The read above takes no lock: a concurrent revoke (or rotation) may have revoked the key since, and
      // only the request whose statement revoked it writes the audit row.
      if (!(await this.keys.revoke(keyId, 'revoked'))) return;
      await this.audit.record(
        {
          action: AuditAction.ApiKeyRevoked,
          status: 'success',
          userId: principal.userId,
          resourceType: 'api_key',
          resourceId: keyId,
        },
        meta,
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
    const work = async (): Promise<CreatedApiKeyDto> => {
      // The owner's row first, as in create: concurrent creations and rotations take turns at the cap.
      await this.users.findByIdForUpdate(principal.userId);
      const old = await this.owned(principal, keyId, true);
      if (old.revokedAt || old.expired) {
        throw new AppException(ErrorCode.Conflict, 'A revoked or expired key cannot be rotated');
      }
      // A key in its grace period is already replaced: rotating it again would mint a second successor (past the
      // one the owner holds) whose expiry is the old key's grace end. The row lock makes concurrent rotations
      // take turns, so only the first one sees no successor.
      if (old.replacedBy !== null) {
        throw new AppException(
          ErrorCode.Conflict,
          `This key was already rotated (it is in its grace period): rotate its successor ${old.replacedBy} instead`,
        );
      }
      // Rotation hands out a fresh secret with the old key's scopes: like creation, it must not give the
      // caller (say, a key narrowed to keys:manage) more than it holds.
      const beyond = old.scopes.filter((scope) => !principal.scopes.includes(scope));
      if (beyond.length > 0) {
        const error = new AppException(
          ErrorCode.Forbidden,
          `You cannot rotate a key with scope: ${beyond.join(', ')}`,
        );
        throw new AuditedRefusal(error, [escalation(AuditAction.ApiKeyRotated, principal, keyId, beyond)]);
      }
      const creatorEnd = await this.creatingKeyEnd(principal);
      // With a grace period the old key stays live beside the new one, so the pair counts toward the cap.
      if (graceSeconds > 0) await this.assertRoomForAnotherKey(principal.userId);
      const { apiKey, record } = await this.insert(
        old.userId,
        // As at creation, the successor ends no later than the key that rotates it.
        {
          name: old.name,
          scopes: old.scopes,
          expiresAt: earlier(old.expiresAt, creatorEnd),
          tier: old.rateLimitTier,
        },
        meta,
        false,
      );
      if (graceSeconds === 0) await this.keys.revoke(keyId, 'rotated', record.keyId);
      else await this.keys.retireAfterGrace(keyId, record.keyId, graceSeconds);
      await this.audit.record(
        {
          action: AuditAction.ApiKeyRotated,
          status: 'success',
          userId: principal.userId,
          resourceType: 'api_key',
          resourceId: keyId,
          metadata: { new_key_id: record.keyId, grace_seconds: graceSeconds },
        },
        meta,
      );
      return toCreatedApiKeyDto(record, apiKey);
    };
    // A refused rotation's row is written once its transaction rolled back, so it stays.
    const created = await keepingRefusals(this.audit, meta, () => this.transactions.run(work));
    this.auth.forget(keyId);
    return created;
  }

  /**
   * Call with the owner's row locked. Keys that still authenticate count, those in a rotation's grace period
   * included; revoked and expired ones do not.
   */
  private async assertRoomForAnotherKey(userId: string): Promise<void> {
    if ((await this.keys.countLive(userId)) >= MAX_LIVE_KEYS_PER_USER) {
      throw new AppException(ErrorCode.Conflict, `At most ${MAX_LIVE_KEYS_PER_USER} live API keys per user`);
    }
  }

  /** Another user's key and a missing key look the same: 404, so key ids reveal nothing. */
  /** When the API key making the request stops working (its expiry, or a rotation's grace end); null: never, or a login. */
  private async creatingKeyEnd(principal: Principal): Promise<Date | null> {
    if (principal.authMethod !== 'api_key' || !principal.keyId) return null;
    return (await this.keys.findOwned(principal.keyId, principal.userId))?.expiresAt ?? null;
  }

  private async owned(principal: Principal, keyId: string, forUpdate = false): Promise<ApiKeyRecord> {
    const key = await this.keys.findOwned(keyId, principal.userId, forUpdate);
    if (!key) throw AppException.notFound('API key not found');
    return key;
  }

  private async insert(
    userId: string,
    values: { name: string; scopes: Scope[]; expiresAt: Date | null; tier?: string },
    meta: RequestMeta,
    audited = true,
  ): Promise<{ apiKey: string; record: ApiKeyRecord }> {
    const apiKey = generateApiKey();
    const record = await this.keys.insert({
      userId,
      keyHash: keyedHash(apiKey, this.config.pepper),
      keyPrefix: displayPrefix(apiKey),
      name: values.name,
      scopes: values.scopes,
      rateLimitTier: values.tier ?? 'general',
      expiresAt: values.expiresAt,
    });
    if (audited) {
      await this.audit.record(
        {
          action: AuditAction.ApiKeyCreated,
          status: 'success',
          userId,
          resourceType: 'api_key',
          resourceId: record.keyId,
          metadata: { name: values.name, scopes: values.scopes },
        },
        meta,
      );
    }
    return { apiKey, record };
  }
}

/** A credential asking for scopes it does not hold: a privilege escalation attempt an operator wants to see. */
function escalation(
  action: AuditAction,
  principal: Principal,
  keyId: string | null,
  refused: readonly Scope[],
): AuditEvent {
  return {
    action,
    status: 'failure',
    userId: principal.userId,
    ...(keyId ? { resourceType: 'api_key', resourceId: keyId } : {}),
    errorMessage: 'scope_not_held',
    metadata: { refused_scopes: refused },
  };
}

/** The earlier of two ends (null: never). */
function earlier(a: Date | null, b: Date | null): Date | null {
  if (a === null) return b;
  if (b === null) return a;
  return a < b ? a : b;
}
