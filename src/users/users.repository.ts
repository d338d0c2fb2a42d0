import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { Role } from '../common/auth/scopes';
import { UserEntity } from './user.entity';

export interface UserPageCursor {
  createdAt: string;
  userId: string;
}

const UNIQUE_VIOLATION = '23505';

export function isUniqueViolation(error: unknown): boolean {
  return (
    (error as { driverError?: { code?: string }; code?: string })?.driverError?.code === UNIQUE_VIOLATION
  );
}

/** Data access for accounts. Returns entities to services only; controllers map them to response DTOs. */
@Injectable()
export class UsersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(manager?: EntityManager) {
    return (manager ?? this.dataSource.manager).getRepository(UserEntity);
  }

  /** Usernames are unique regardless of case; lookups follow the same rule (the index is on lower()). */
  findByUsername(username: string, manager?: EntityManager): Promise<UserEntity | null> {
    return this.repo(manager)
      .createQueryBuilder('u')
      .where('lower(u.username) = lower(:username)', { username })
      .getOne();
  }

  findById(userId: string, manager?: EntityManager): Promise<UserEntity | null> {
    return this.repo(manager).findOneBy({ userId });
  }

  /** Locks the row for the rest of the transaction. */
  findByIdForUpdate(userId: string, manager: EntityManager): Promise<UserEntity | null> {
    return this.repo(manager)
      .createQueryBuilder('u')
      .setLock('pessimistic_write')
      .where('u.user_id = :userId', { userId })
      .getOne();
  }

  async create(
    values: { username: string; passwordHash: string; email: string | null; role?: Role },
    manager?: EntityManager,
  ): Promise<UserEntity> {
    const result = await this.repo(manager).insert({ role: 'user', ...values });
    const userId = (result.identifiers[0] as { userId: string }).userId;
    return (await this.findById(userId, manager))!;
  }

  async recordLogin(userId: string, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update({ userId }, { lastLogin: () => 'now()' });
  }

  async update(
    userId: string,
    changes: { role?: Role; disabledAt?: Date | null },
    manager?: EntityManager,
  ): Promise<void> {
    await this.repo(manager).update({ userId }, { ...changes, updatedAt: () => 'now()' });
  }

  /** Active admins other than `exceptUserId`, locking their rows so two demotions cannot race past the check. */
  async lockOtherActiveAdmins(exceptUserId: string, manager: EntityManager): Promise<number> {
    const rows = await manager.query<unknown[]>(
      `SELECT user_id FROM users WHERE role = 'admin' AND disabled_at IS NULL AND user_id <> $1 FOR UPDATE`,
      [exceptUserId],
    );
    return rows.length;
  }

  /**
   * Keyset pagination by (created_at, user_id): stable under inserts, no OFFSET scans. Times compare at
   * millisecond precision, the precision a cursor carries through JavaScript.
   */
  async page(limit: number, after: UserPageCursor | null): Promise<UserEntity[]> {
    const sortKey = `date_trunc('milliseconds', u.created_at)`;
    const query = this.repo().createQueryBuilder('u').orderBy(sortKey, 'ASC').addOrderBy('u.user_id', 'ASC');
    if (after)
      query.where(`(${sortKey}, u.user_id) > (:createdAt::timestamptz, :userId::uuid)`, { ...after });
    return query.limit(limit).getMany();
  }
}
