import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { RefreshTokenService } from '../auth/refresh-token.service';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor';
import { isUuid } from '../common/validation/uuid';
import { TransactionRunner } from '../database/transaction-runner';
import { UserStatusCache } from '../users/user-status.cache';
import { UserRecord, UsersRepository } from '../users/users.repository';
import { AdminUserDto, AdminUserPageDto, UpdateUserDto } from './dto/admin.dto';

export function toAdminUser(user: UserRecord): AdminUserDto {
  return {
    user_id: user.userId,
    username: user.username,
    email: user.email,
    role: user.role,
    disabled: user.disabledAt !== null,
    created_at: user.createdAt.toISOString(),
    last_login: user.lastLogin?.toISOString() ?? null,
  };
}

@Injectable()
export class AdminUsersService {
  constructor(
    private readonly transactions: TransactionRunner,
    private readonly users: UsersRepository,
    private readonly statuses: UserStatusCache,
    private readonly refreshTokens: RefreshTokenService,
    private readonly audit: AuditService,
  ) {}

  async list(
    actor: Principal,
    limit: number,
    cursor: string | undefined,
    meta: RequestMeta,
  ): Promise<AdminUserPageDto> {
    const after = decodeCursor(cursor);
    const rows = await this.users.page(limit + 1, after ? { createdAt: after.t, userId: after.id } : null);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    await this.audit.record({ action: 'admin.users_listed', status: 'success', userId: actor.userId }, meta);
    return {
      items: items.map(toAdminUser),
      next_cursor:
        rows.length > limit && last
          ? encodeCursor({ t: last.createdAt.toISOString(), id: last.userId })
          : null,
    };
  }

  async update(
    actor: Principal,
    userId: string,
    dto: UpdateUserDto,
    meta: RequestMeta,
  ): Promise<AdminUserDto> {
    if (!isUuid(userId)) throw AppException.notFound('User not found');
    const updated = await this.transactions.run(async () => {
      const target = await this.users.findByIdForUpdate(userId);
      if (!target) throw AppException.notFound('User not found');
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
        throw new AppException(ErrorCode.Conflict, 'The last active admin cannot be demoted or disabled');
      }
      if (Object.keys(changes).length === 0) return target;
      const changed = (await this.users.update(target.userId, changes))!;
      const revoked = changes.disabled
        ? await this.refreshTokens.revokeAllForUser(target.userId, 'user_disabled')
        : 0;
      await this.audit.record(
        {
          action: changes.disabled
            ? 'admin.user_disabled'
            : changes.role
              ? 'admin.role_changed'
              : 'admin.user_enabled',
          status: 'success',
          userId: actor.userId,
          resourceType: 'user',
          resourceId: target.userId,
          metadata: {
            ...(changes.role ? { role: { from: target.role, to: changes.role } } : {}),
            ...(changes.disabled !== undefined ? { disabled: changes.disabled } : {}),
            ...(revoked ? { revoked_refresh_tokens: revoked } : {}),
          },
        },
        meta,
      );
      return changed;
    });
    this.statuses.invalidate(userId);
    return toAdminUser(updated);
  }
}
