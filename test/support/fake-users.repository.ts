import { randomUUID } from 'node:crypto';
import type { Role } from '../../src/common/auth/scopes';
import type { UserEntity } from '../../src/users/user.entity';
import type { UsersRepository } from '../../src/users/users.repository';

type UsedByUnitTests = 'findById' | 'findByIdForUpdate' | 'lockOtherActiveAdmins' | 'update';

/**
 * An in-memory UsersRepository for unit tests of services and caches. It has no transactions and no locks:
 * tests that depend on either (two admins demoted at once) belong against a real database.
 */
export class FakeUsersRepository implements Pick<UsersRepository, UsedByUnitTests> {
  private readonly users = new Map<string, UserEntity>();

  add(values: { username: string; role?: Role; disabled?: boolean }): UserEntity {
    const now = new Date();
    const user = {
      userId: randomUUID(),
      username: values.username,
      email: null,
      passwordHash: 'not-a-hash',
      role: values.role ?? 'user',
      createdAt: now,
      updatedAt: now,
      lastLogin: null,
      disabledAt: values.disabled ? now : null,
    } satisfies UserEntity;
    this.users.set(user.userId, user);
    return { ...user };
  }

  /** A copy, so a service cannot change stored state without calling update. */
  findById(userId: string): Promise<UserEntity | null> {
    const user = this.users.get(userId);
    return Promise.resolve(user ? { ...user } : null);
  }

  findByIdForUpdate(userId: string): Promise<UserEntity | null> {
    return this.findById(userId);
  }

  lockOtherActiveAdmins(exceptUserId: string): Promise<number> {
    return Promise.resolve(
      [...this.users.values()].filter(
        (user) => user.role === 'admin' && user.disabledAt === null && user.userId !== exceptUserId,
      ).length,
    );
  }

  update(userId: string, changes: { role?: Role; disabledAt?: Date | null }): Promise<void> {
    const user = this.users.get(userId);
    if (user) this.users.set(userId, { ...user, ...changes, updatedAt: new Date() });
    return Promise.resolve();
  }

  asRepository(): UsersRepository {
    return this as unknown as UsersRepository;
  }
}
