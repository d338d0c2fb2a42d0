import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AuditAction } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import { PasswordHasher, passwordProblem } from '../auth/password';
import { RefreshTokenService } from '../auth/refresh-token.service';
import { SettingsError } from '../common/config/problems';
import { isReservedUsername } from '../common/validation/reserved-names';
import { isUsername } from '../common/validation/username';
import { TransactionRunner } from '../database/transaction-runner';
import { UserStatusCache } from '../users/user-status.cache';
import { isSystemAccount, UsersRepository } from '../users/users.repository';
import { AdminConfig } from './admin.config';

export type EnsureAdminOutcome =
  'created' | 'promoted' | 'unchanged' | 'password reset' | 'password not its own' | 'left to the admins';

/** One line for the operator (boot log, CLI). */
export function describeAdminOutcome(username: string, outcome: EnsureAdminOutcome): string {
  if (outcome === 'left to the admins') {
    return (
      `admin "${username}": left as it is (not an active admin) — another admin is active, and ADMIN_USERNAME ` +
      `only makes the first admin: an admin changes it, or \`npm run cli -- create-admin ${username}\``
    );
  }
  if (outcome !== 'password not its own') return `admin "${username}": ${outcome}`;
  return (
    `admin "${username}": unchanged — the password given is not its password, which is left as it is ` +
    `(\`npm run cli -- create-admin ${username} --reset-password\` sets it)`
  );
}

/** The named account exists with another password: it is not made admin (and, unasked, not changed). */
export class AdminPasswordMismatch extends SettingsError {}

/**
 * The first admin: ADMIN_USERNAME + ADMIN_PASSWORD at boot, or `npm run cli -- create-admin <username>`.
 * Idempotent. An existing account is promoted (and re-enabled) only when the password given is its own:
 * anyone may register a name before the operator picks it, and must not become admin by that. From the
 * environment, only while no other admin is active: the variables stay set across restarts, and a boot must
 * not undo an admin's later demotion or disabling of that account (a compromised first admin, say).
 * `resetPassword` (the CLI's `--reset-password`, for someone with the server's database) sets the password
 * instead of checking it: the way back from a lost admin password.
 */
@Injectable()
export class AdminBootstrapService implements OnApplicationBootstrap {
  private readonly logger = new Logger('AdminBootstrap');

  constructor(
    private readonly transactions: TransactionRunner,
    private readonly config: AdminConfig,
    private readonly users: UsersRepository,
    private readonly statuses: UserStatusCache,
    private readonly passwords: PasswordHasher,
    private readonly refreshTokens: RefreshTokenService,
    private readonly audit: AuditService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const admin = this.config.bootstrapAdmin;
    if (!admin) return;
    const outcome = await this.ensureAdmin(admin.username, admin.password, 'env');
    const line = describeAdminOutcome(admin.username, outcome);
    if (outcome === 'password not its own' || outcome === 'left to the admins') this.logger.warn(line);
    else this.logger.log(line);
  }

  async ensureAdmin(
    username: string,
    password: string,
    source: 'env' | 'cli',
    resetPassword = false,
  ): Promise<EnsureAdminOutcome> {
    if (!isUsername(username)) throw new Error('username must be 3 to 32 of A-Z a-z 0-9 _');
    const problem = passwordProblem(password);
    if (problem) throw new Error(`password ${problem}`);
    // Hashed only when a password is set (a new account, a reset): an existing one is verified instead.
    const hash = () => this.passwords.hash(password);
    const outcome = await this.transactions.run(async () => {
      // Replicas booting together would each find no account and each insert it (all but one then fail on the
      // unique index): locked, the later ones find the first's account (read committed) and check it as usual.
      await this.users.lockUsername(username);
      const existing = await this.users.findByUsername(username);
      // Nobody can log in as a system account: made admin, it would only pass for one (see AdminUsersService).
      if (existing && isSystemAccount(existing)) {
        throw new Error(`${username} is a built-in system account: choose another name for the admin`);
      }
      if (!existing && isReservedUsername(username)) {
        throw new Error(
          `${username} is reserved for the server's own accounts: choose another name for the admin`,
        );
      }
      let result: EnsureAdminOutcome = 'unchanged';
      let userId = existing?.userId;
      if (!existing) {
        userId = (
          await this.users.create({ username, passwordHash: await hash(), email: null, role: 'admin' })
        ).userId;
        result = 'created';
      } else if (resetPassword) {
        await this.users.update(existing.userId, { role: 'admin', disabled: false });
        await this.users.setPasswordHash(existing.userId, await hash());
        // Whoever held the old password loses what it gave them: refresh tokens and access tokens end.
        await this.refreshTokens.endSessions(existing.userId, 'logout_all');
        result = 'password reset';
      } else if (!(await this.passwords.verify(password, existing.passwordHash))) {
        const active = existing.role === 'admin' && !existing.disabledAt;
        if (!active) {
          throw new AdminPasswordMismatch(
            `account "${username}" exists with another password: it is not made admin. Give its own ` +
              `password, choose another name, or reset it with \`npm run cli -- create-admin ${username} --reset-password\``,
          );
        }
        result = 'password not its own';
      } else if (existing.role !== 'admin' || existing.disabledAt) {
        if (source === 'env' && (await this.users.lockOtherActiveAdmins(existing.userId)) > 0) {
          result = 'left to the admins';
        } else {
          await this.users.update(existing.userId, { role: 'admin', disabled: false });
          result = 'promoted';
        }
      }
      if (result === 'created' || result === 'promoted' || result === 'password reset') {
        await this.audit.record(
          {
            action: AuditAction.AdminBootstrap,
            status: 'success',
            userId,
            resourceType: 'user',
            resourceId: userId,
            metadata: { source, outcome: result },
          },
          null,
        );
      }
      return { result, userId: userId! };
    });
    this.statuses.invalidate(outcome.userId);
    return outcome.result;
  }
}
