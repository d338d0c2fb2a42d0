import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AuditAction } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import { PasswordHasher, passwordProblem } from '../auth/password';
import { isUsername } from '../common/validation/username';
import { TransactionRunner } from '../database/transaction-runner';
import { UserStatusCache } from '../users/user-status.cache';
import { isSystemAccount, UsersRepository } from '../users/users.repository';
import { AdminConfig } from './admin.config';

export type EnsureAdminOutcome = 'created' | 'promoted' | 'unchanged';

/**
 * The first admin: ADMIN_USERNAME + ADMIN_PASSWORD at boot, or `npm run cli -- create-admin <username>`.
 * Idempotent: an existing account is promoted (and re-enabled) but its password is left as it is.
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
    private readonly audit: AuditService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const admin = this.config.bootstrapAdmin;
    if (!admin) return;
    const outcome = await this.ensureAdmin(admin.username, admin.password, 'env');
    this.logger.log(`admin account "${admin.username}": ${outcome}`);
  }

  async ensureAdmin(username: string, password: string, source: 'env' | 'cli'): Promise<EnsureAdminOutcome> {
    if (!isUsername(username)) throw new Error('username must be 3 to 32 of A-Z a-z 0-9 _');
    const problem = passwordProblem(password);
    if (problem) throw new Error(`password ${problem}`);
    const passwordHash = await this.passwords.hash(password);
    const outcome = await this.transactions.run(async () => {
      const existing = await this.users.findByUsername(username);
      // Nobody can log in as a system account: made admin, it would only pass for one (see AdminUsersService).
      if (existing && isSystemAccount(existing)) {
        throw new Error(`${username} is a built-in system account: choose another name for the admin`);
      }
      let result: EnsureAdminOutcome = 'unchanged';
      let userId = existing?.userId;
      if (!existing) {
        userId = (await this.users.create({ username, passwordHash, email: null, role: 'admin' })).userId;
        result = 'created';
      } else if (existing.role !== 'admin' || existing.disabledAt) {
        await this.users.update(existing.userId, { role: 'admin', disabled: false });
        result = 'promoted';
      }
      if (result !== 'unchanged') {
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
