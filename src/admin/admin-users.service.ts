import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { RefreshTokenService } from '../auth/refresh-token.service';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor';
import { UserEntity } from '../users/user.entity';
import { UserStatusCache } from '../users/user-status.cache';
import { UsersRepository } from '../users/users.repository';
import { AdminUserDto, AdminUserPageDto, UpdateUserDto } from './dto/admin.dto';
import { isUuid } from '../common/validation/uuid';

export function toAdminUser(user: UserEntity): AdminUserDto {
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
    @InjectDataSource() private readonly dataSource: DataSource,
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
    const updated = await this.dataSource.transaction(async (manager) => {
      const target = await this.users.findByIdForUpdate(userId, manager);
      if (!target) throw AppException.notFound('User not found');
      const changes: { role?: UserEntity['role']; disabledAt?: Date | null } = {};
      if (dto.role !== undefined && dto.role !== target.role) changes.role = dto.role;
      if (dto.disabled !== undefined && dto.disabled !== (target.disabledAt !== null)) {
        changes.disabledAt = dto.disabled ? new Date() : null;
      }
      const losesAdmin =
        target.role === 'admin' &&
        target.disabledAt === null &&
        (changes.role === 'user' || changes.disabledAt);
      // Never leave the system without an active admin (including an admin demoting or disabling themself).
      if (losesAdmin && (await this.users.lockOtherActiveAdmins(target.userId, manager)) === 0) {
        throw new AppException(ErrorCode.Conflict, 'The last active admin cannot be demoted or disabled');
      }
      if (Object.keys(changes).length === 0) return target;
      await this.users.update(target.userId, changes, manager);
      const revoked = changes.disabledAt
        ? await this.refreshTokens.revokeAllForUser(target.userId, 'user_disabled', manager)
        : 0;
      await this.audit.record(
        {
          action: changes.disabledAt
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
            ...(changes.disabledAt !== undefined ? { disabled: changes.disabledAt !== null } : {}),
            ...(revoked ? { revoked_refresh_tokens: revoked } : {}),
          },
        },
        meta,
        manager,
      );
      return (await this.users.findById(target.userId, manager))!;
    });
    this.statuses.invalidate(userId);
    return toAdminUser(updated);
  }
}
