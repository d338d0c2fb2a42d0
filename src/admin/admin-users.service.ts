import { Injectable } from '@nestjs/common';
import { AuditAction } from '../audit/audit-actions';
import { AuditedRefusal, keepingRefusals } from '../audit/audited-refusal';
import { AuditEvent, AuditService } from '../audit/audit.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { PasswordHasher } from '../auth/password';
import { RefreshTokenService } from '../auth/refresh-token.service';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { Page, pageRequest, toPage } from '../common/pagination/page';
import { TransactionRunner } from '../database/transaction-runner';
import { UserStatusCache } from '../users/user-status.cache';
import {
  isSystemAccount,
  isUniqueViolation,
  UserRecord,
  usernameTaken,
  UsersRepository,
} from '../users/users.repository';
import { AdminUserDto, CreateUserDto, toAdminUserDto, UpdateUserDto } from './dto/admin.dto';

@Injectable()
export class AdminUsersService {
  constructor(
    private readonly transactions: TransactionRunner,
    private readonly users: UsersRepository,
    private readonly statuses: UserStatusCache,
    private readonly refreshTokens: RefreshTokenService,
    private readonly audit: AuditService,
    private readonly passwords: PasswordHasher,
  ) {}

  /** An account made by an admin (the only way in with REGISTRATION=closed); it logs in with its password. */
  async create(actor: Principal, dto: CreateUserDto, meta: RequestMeta): Promise<AdminUserDto> {
    const passwordHash = await this.passwords.hash(dto.password);
    const role = dto.role ?? 'user';
    try {
      const created = await this.transactions.run(async () => {
        const user = await this.users.create({
          username: dto.username,
          passwordHash,
          email: dto.email ?? null,
          role,
        });
        await this.audit.record(
          {
            action: AuditAction.AdminUserCreated,
            status: 'success',
            userId: actor.userId,
            resourceType: 'user',
            resourceId: user.userId,
            metadata: { role },
          },
          meta,
        );
        return user;
      });
      return toAdminUserDto(created);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // After the rollback, so the refusal's row stays.
      await this.audit.record(
        {
          action: AuditAction.AdminUserCreated,
          status: 'failure',
          userId: actor.userId,
          errorMessage: 'username or email taken',
          metadata: { username: dto.username.slice(0, 64), role },
        },
        meta,
      );
      throw usernameTaken();
    }
  }

  /** Oldest first; `cursor` is a previous page's `next_cursor` (a tampered one is a 422). */
  async list(
    actor: Principal,
    query: { limit?: number; cursor?: string },
    meta: RequestMeta,
  ): Promise<Page<AdminUserDto>> {
    const request = pageRequest(query);
    const after = request.after;
    const rows = await this.users.page(
      request.fetch,
      after ? { createdAt: after.t, userId: after.id } : null,
    );
    await this.audit.record(
      { action: AuditAction.AdminUsersListed, status: 'success', userId: actor.userId },
      meta,
    );
    return toPage(rows, request, (u) => ({ t: u.createdAt.toISOString(), id: u.userId }), toAdminUserDto);
  }

  async update(
    actor: Principal,
    userId: string,
    dto: UpdateUserDto,
    meta: RequestMeta,
  ): Promise<AdminUserDto> {
    if (dto.role === undefined && dto.disabled === undefined && dto.password === undefined) {
      throw AppException.validation([
        { field: 'role', message: 'give role, disabled or password (or several)' },
      ]);
    }
    // Hashed before the transaction: bcrypt's ~0.25 s would hold the account's row lock.
    const passwordHash = dto.password === undefined ? undefined : await this.passwords.hash(dto.password);
    const work = async (): Promise<UserRecord> => {
      const target = await this.users.findByIdForUpdate(userId);
      if (!target) throw AppException.notFound('User not found');
      // Enabled or promoted, a passwordless system account would pass for an active admin (the last-admin check).
      if (isSystemAccount(target)) {
        const error = new AppException(
          ErrorCode.Forbidden,
          `${target.username} is a built-in system account: its role, status and password cannot be changed`,
        );
        throw new AuditedRefusal(error, refusalRows(actor, 'system_account', target, dto));
      }
      const changes: { role?: UserRecord['role']; disabled?: boolean } = {};
      if (dto.role !== undefined && dto.role !== target.role) changes.role = dto.role;
      if (dto.disabled !== undefined && dto.disabled !== (target.disabledAt !== null)) {
        changes.disabled = dto.disabled;
      }
      const losesAdmin =
        target.role === 'admin' &&
        target.disabledAt === null &&
        (changes.role === 'user' || changes.disabled === true);
      // Never leave the system without an active admin (including an admin demoting or disabling themself).
      if (losesAdmin && (await this.users.lockOtherActiveAdmins(target.userId)) === 0) {
        const error = new AppException(
          ErrorCode.Conflict,
          'The last active admin cannot be demoted or disabled',
          { reason: ErrorReason.LastAdmin },
        );
        const requested = { ...changes, ...(dto.password === undefined ? {} : { password: dto.password }) };
        throw new AuditedRefusal(error, refusalRows(actor, ErrorReason.LastAdmin, target, requested));
      }
      if (Object.keys(changes).length === 0 && passwordHash === undefined) return target;
      const changed = (await this.users.update(target.userId, changes))!;
      if (passwordHash !== undefined) await this.users.setPasswordHash(target.userId, passwordHash);
      // Disabled, the account's sessions end (not suspended: enabled again, it starts from a new login); with a
      // new password, whoever held the old one (or a token from it) loses what it gave them. Once for both.
      let revoked = 0;
      if (changes.disabled || passwordHash !== undefined) {
        const ended = await this.refreshTokens.endSessions(
          target.userId,
          changes.disabled ? 'user_disabled' : 'logout_all',
        );
        revoked = ended.revokedTokens;
      }
      const revokedTokens = revoked ? { revoked_refresh_tokens: revoked } : {};
      const row = (action: AuditAction, metadata: Record<string, unknown>) =>
        this.audit.record(
          {
            action,
            status: 'success',
            userId: actor.userId,
            resourceType: 'user',
            resourceId: target.userId,
            metadata,
          },
          meta,
        );
      // One row per change, so that filtering by action finds each (a promotion made with a disable, say).
      if (changes.role)
        await row(AuditAction.AdminRoleChanged, { role: { from: target.role, to: changes.role } });
      if (changes.disabled === true) {
        await row(AuditAction.AdminUserDisabled, { disabled: true, ...revokedTokens });
      }
      if (changes.disabled === false) await row(AuditAction.AdminUserEnabled, { disabled: false });
      if (passwordHash !== undefined) await row(AuditAction.AdminPasswordReset, revokedTokens);
      return changed;
    };
    // A refused change's rows are written once its transaction rolled back, so they stay.
    const updated = await keepingRefusals(this.audit, meta, () => this.transactions.run(work));
    this.statuses.invalidate(userId);
    return toAdminUserDto(updated);
  }
}

/**
 * One failure row per refused change, as a success writes one per change, so filtering by action finds the
 * attempt; `reason` is the row's errorMessage (the error's `reason` where it has one).
 */
function refusalRows(
  actor: Principal,
  reason: typeof ErrorReason.LastAdmin | 'system_account',
  target: UserRecord,
  requested: { role?: UserRecord['role']; disabled?: boolean; password?: string },
): AuditEvent[] {
  const attempts: [AuditAction, Record<string, unknown>][] = [];
  if (requested.role !== undefined)
    attempts.push([AuditAction.AdminRoleChanged, { role: { from: target.role, to: requested.role } }]);
  if (requested.disabled === true) attempts.push([AuditAction.AdminUserDisabled, { disabled: true }]);
  if (requested.disabled === false) attempts.push([AuditAction.AdminUserEnabled, { disabled: false }]);
  if (requested.password !== undefined) attempts.push([AuditAction.AdminPasswordReset, {}]);
  return attempts.map(([action, metadata]) => ({
    action,
    status: 'failure',
    userId: actor.userId,
    resourceType: 'user',
    resourceId: target.userId,
    errorMessage: reason,
    metadata,
  }));
}
