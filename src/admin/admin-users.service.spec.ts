import { appErrorOf } from '../../test/support/guard-context';
import { FakeUsersRepository } from '../../test/support/fake-users.repository';
import type { AuditEvent, AuditService } from '../audit/audit.service';
import type { PasswordHasher } from '../auth/password';
import type { RefreshTokenService } from '../auth/refresh-token.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { FakeClock } from '../common/clock/fake-clock';
import type { TransactionRunner } from '../database/transaction-runner';
import { UserStatusCache } from '../users/user-status.cache';
import { AdminUsersService } from './admin-users.service';

class FakeAudit implements Pick<AuditService, 'record'> {
  readonly events: AuditEvent[] = [];

  record(event: AuditEvent): Promise<void> {
    this.events.push(event);
    return Promise.resolve();
  }
}

class FakeRefreshTokens implements Pick<RefreshTokenService, 'endSessions'> {
  /** Live refresh tokens per user; ending the sessions returns how many there were. */
  readonly live = new Map<string, number>();

  constructor(private readonly users: FakeUsersRepository) {}

  async endSessions(userId: string): Promise<{ revokedTokens: number; accessTokenEpoch: number }> {
    const revokedTokens = this.live.get(userId) ?? 0;
    this.live.set(userId, 0);
    return { revokedTokens, accessTokenEpoch: await this.users.cutAccessTokens(userId) };
  }
}

/** The service opens a transaction; the in-memory fakes have none, so the work just runs. */
const inlineTransactions = {
  run: <T>(work: () => Promise<T>) => work(),
} as unknown as TransactionRunner;

const meta: RequestMeta = { ip: '203.0.113.1', userAgent: 'unit-test', requestId: 'req-1' };

describe('AdminUsersService.update', () => {
  let users: FakeUsersRepository;
  let statuses: UserStatusCache;
  let audit: FakeAudit;
  let refreshTokens: FakeRefreshTokens;
  let sut: AdminUsersService;

  beforeEach(() => {
    users = new FakeUsersRepository();
    statuses = new UserStatusCache(users.asRepository(), new FakeClock());
    audit = new FakeAudit();
    refreshTokens = new FakeRefreshTokens(users);
    sut = new AdminUsersService(
      inlineTransactions,
      users.asRepository(),
      statuses,
      refreshTokens as unknown as RefreshTokenService,
      audit as unknown as AuditService,
      {} as PasswordHasher, // these specs create no account
    );
  });

  const actorFor = (userId: string): Principal => ({
    userId,
    username: 'actor',
    role: 'admin',
    scopes: [],
    authMethod: 'jwt',
  });

  describe('the last active admin', () => {
    it.each([
      ['demote', { role: 'user' as const }, 'admin.role_changed', { role: { from: 'admin', to: 'user' } }],
      ['disable', { disabled: true }, 'admin.user_disabled', { disabled: true }],
    ])(
      'cannot %s themself: 409 conflict (last_admin), audited only as refused',
      async (_verb, change, action, metadata) => {
        const admin = users.add({ username: 'root', role: 'admin' });
        expect(
          await appErrorOf(() => sut.update(actorFor(admin.userId), admin.userId, change, meta)),
        ).toEqual({
          status: 409,
          code: 'conflict',
          reason: 'last_admin',
          message: 'The last active admin cannot be demoted or disabled',
        });
        expect(await users.findById(admin.userId)).toMatchObject({ role: 'admin', disabledAt: null });
        expect(audit.events).toEqual([
          {
            action,
            status: 'failure',
            userId: admin.userId,
            resourceType: 'user',
            resourceId: admin.userId,
            errorMessage: 'last_admin',
            metadata,
          },
        ]);
      },
    );

    it('a disabled admin is not another admin; once enabled, the demotion goes through', async () => {
      const root = users.add({ username: 'root', role: 'admin' });
      const dormant = users.add({ username: 'dormant', role: 'admin', disabled: true });
      const demote = () => sut.update(actorFor(root.userId), root.userId, { role: 'user' }, meta);
      expect(await appErrorOf(demote)).toMatchObject({ status: 409 });
      await sut.update(actorFor(root.userId), dormant.userId, { disabled: false }, meta);
      await expect(demote()).resolves.toMatchObject({ user_id: root.userId, role: 'user' });
    });

    it('does not stop changes that leave an active admin: promoting, or demoting a disabled admin', async () => {
      const root = users.add({ username: 'root', role: 'admin' });
      const dormant = users.add({ username: 'dormant', role: 'admin', disabled: true });
      const alice = users.add({ username: 'alice' });
      await expect(
        sut.update(actorFor(root.userId), dormant.userId, { role: 'user' }, meta),
      ).resolves.toMatchObject({
        role: 'user',
        disabled: true,
      });
      await expect(
        sut.update(actorFor(root.userId), alice.userId, { role: 'admin' }, meta),
      ).resolves.toMatchObject({
        role: 'admin',
      });
    });
  });

  it('a demotion beside another active admin applies, is audited, and the status cache sees it at once', async () => {
    const root = users.add({ username: 'root', role: 'admin' });
    const second = users.add({ username: 'second', role: 'admin' });
    expect((await statuses.get(second.userId))?.role).toBe('admin'); // now cached
    const result = await sut.update(actorFor(root.userId), second.userId, { role: 'user' }, meta);
    expect(result).toMatchObject({ user_id: second.userId, role: 'user', disabled: false });
    expect((await statuses.get(second.userId))?.role).toBe('user');
    expect(audit.events).toEqual([
      {
        action: 'admin.role_changed',
        status: 'success',
        userId: root.userId,
        resourceType: 'user',
        resourceId: second.userId,
        metadata: { role: { from: 'admin', to: 'user' } },
      },
    ]);
  });

  it('disabling a user revokes their refresh tokens and records how many', async () => {
    const root = users.add({ username: 'root', role: 'admin' });
    const alice = users.add({ username: 'alice' });
    refreshTokens.live.set(alice.userId, 3);
    await expect(
      sut.update(actorFor(root.userId), alice.userId, { disabled: true }, meta),
    ).resolves.toMatchObject({
      disabled: true,
    });
    expect(refreshTokens.live.get(alice.userId)).toBe(0);
    // Its access tokens end too: enabled again, it starts from a new login.
    expect((await users.findById(alice.userId))!.accessTokenEpoch).toBe(1);
    expect(audit.events).toEqual([
      expect.objectContaining({
        action: 'admin.user_disabled',
        metadata: { disabled: true, revoked_refresh_tokens: 3 },
      }),
    ]);
  });

  it('an update that changes nothing writes and audits nothing', async () => {
    const root = users.add({ username: 'root', role: 'admin' });
    const alice = users.add({ username: 'alice' });
    const before = await users.findById(alice.userId);
    await sut.update(actorFor(root.userId), alice.userId, { role: 'user', disabled: false }, meta);
    expect(await users.findById(alice.userId)).toEqual(before);
    expect(audit.events).toEqual([]);
  });

  it.each(['not-a-uuid', '00000000-0000-4000-8000-00000000dead'])('%s: 404 not_found', async (userId) => {
    const root = users.add({ username: 'root', role: 'admin' });
    expect(
      await appErrorOf(() => sut.update(actorFor(root.userId), userId, { role: 'user' }, meta)),
    ).toMatchObject({
      status: 404,
      code: 'not_found',
    });
  });
});
