import { randomUUID } from 'node:crypto';
import type { Role } from '../../src/common/auth/scopes';
import type { UserRecord, UsersRepository } from '../../src/users/users.repository';

type UsedByUnitTests =
  'findById' | 'findByIdForUpdate' | 'lockOtherActiveAdmins' | 'update' | 'cutAccessTokens';

/**
 * An in-memory UsersRepository for unit tests of services and caches. It has no transactions and no locks:
 * tests that depend on either (two admins demoted at once) belong against a real database.
 */
export class FakeUsersRepository implements Pick<UsersRepository, UsedByUnitTests> {
  private readonly users = new Map<string, UserRecord>();

  add(values: { username: string; role?: Role; disabled?: boolean }): UserRecord {
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
      accessTokenEpoch: 0,
    } satisfies UserRecord;
    this.users.set(user.userId, user);
    return { ...user };
  }

  /** A copy, so a service cannot change stored state without calling update. */
  findById(userId: string): Promise<UserRecord | null> {
    const user = this.users.get(userId);
    return Promise.resolve(user ? { ...user } : null);
  }

  findByIdForUpdate(userId: string): Promise<UserRecord | null> {
    return this.findById(userId);
  }

  lockOtherActiveAdmins(exceptUserId: string): Promise<number> {
    return Promise.resolve(
      [...this.users.values()].filter(
        (user) => user.role === 'admin' && user.disabledAt === null && user.userId !== exceptUserId,
      ).length,
    );
  }

  update(userId: string, changes: { role?: Role; disabled?: boolean }): Promise<UserRecord | null> {
    const user = this.users.get(userId);
    if (!user) return Promise.resolve(null);
    const now = new Date();
    const disabledAt =
      changes.disabled === undefined ? user.disabledAt : changes.disabled ? (user.disabledAt ?? now) : null;
    const updated = { ...user, role: changes.role ?? user.role, disabledAt, updatedAt: now };
    this.users.set(userId, updated);
    return Promise.resolve({ ...updated });
  }

  cutAccessTokens(userId: string): Promise<number> {
    const user = this.users.get(userId);
    if (user) this.users.set(userId, { ...user, accessTokenEpoch: user.accessTokenEpoch + 1 });
    return Promise.resolve(user ? user.accessTokenEpoch + 1 : 0);
  }

  asRepository(): UsersRepository {
    return this as unknown as UsersRepository;
  }
}
