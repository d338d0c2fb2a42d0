import { Injectable } from '@nestjs/common';
import type { Role } from '../common/auth/scopes';
import { LruCache } from '../common/cache/lru-cache';
import { Clock } from '../common/clock/clock';
import { UsersRepository } from './users.repository';

export interface UserStatus {
  userId: string;
  username: string;
  role: Role;
  disabled: boolean;
  accessTokenEpoch: number;
}

/**
 * How long a replica may act on a stale role or a disabled account. Access tokens are checked against the
 * account on every request, through this cache: a disabled or deleted user, or one whose access tokens were
 * cut (logout-all, refresh-token reuse), is locked out within this time on every replica, without a database read per request.
 */
export const USER_STATUS_TTL_MS = 2000;

@Injectable()
export class UserStatusCache {
  /** Bounded: a flood of token subjects cannot grow it, and forgets the least recently seen first. */
  private readonly entries = new LruCache<string, { status: UserStatus | null; expiresAt: number }>({
    maxEntries: 10_000,
  });
  /** Counts invalidations: a read that was in flight across one may predate the change, so it is not kept. */
  private invalidations = 0;

  constructor(
    private readonly users: UsersRepository,
    private readonly clock: Clock,
  ) {}

  async get(userId: string): Promise<UserStatus | null> {
    const now = this.clock.nowMs();
    const cached = this.entries.get(userId);
    if (cached && cached.expiresAt > now) return cached.status;
    const invalidations = this.invalidations;
    const user = await this.users.findById(userId);
    const status = user
      ? {
          userId: user.userId,
          username: user.username,
          role: user.role,
          disabled: user.disabledAt !== null,
          accessTokenEpoch: user.accessTokenEpoch,
        }
      : null;
    // Read before an invalidation on this replica answered after it: that request uses it, later ones read again.
    if (invalidations !== this.invalidations) return status;
    this.entries.set(userId, { status, expiresAt: now + USER_STATUS_TTL_MS });
    return status;
  }

  /** Local changes take effect at once on this replica; others follow within the TTL. */
  invalidate(userId: string): void {
    this.invalidations += 1;
    this.entries.delete(userId);
  }
}
