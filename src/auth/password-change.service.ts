import { Injectable } from '@nestjs/common';
import { AuditAction } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import { FailedAuthenticationThrottle } from '../common/auth/failed-authentication.throttle';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { TransactionRunner } from '../database/transaction-runner';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { isSystemAccount, UsersRepository } from '../users/users.repository';
import { UserStatusCache } from '../users/user-status.cache';
import { AccessTokenService } from './access-token.service';
import { ChangePasswordDto, TokenPairDto } from './dto/auth.dto';
import { isBeyondBcrypt, PasswordHasher } from './password';
import { RefreshTokenService } from './refresh-token.service';

const wrongPassword = () =>
  new AppException(ErrorCode.Forbidden, 'The current password is not correct', {
    reason: ErrorReason.WrongPassword,
  });

type Refusal = 'wrong password' | 'system account' | 'same password';

/** A signed-in user changes their own password: every session ends, and the caller gets a fresh one. */
@Injectable()
export class PasswordChangeService {
  constructor(
    private readonly transactions: TransactionRunner,
    private readonly users: UsersRepository,
    private readonly passwords: PasswordHasher,
    private readonly accessTokens: AccessTokenService,
    private readonly refreshTokens: RefreshTokenService,
    private readonly audit: AuditService,
    private readonly metrics: VcpMetrics,
    private readonly statuses: UserStatusCache,
    private readonly failures: FailedAuthenticationThrottle,
  ) {}

  async change(principal: Principal, dto: ChangePasswordDto, meta: RequestMeta): Promise<TokenPairDto> {
    const user = await this.users.findById(principal.userId);
    if (!user) throw new AppException(ErrorCode.Unauthorized, 'Valid credentials are required');
    if (isSystemAccount(user)) {
      await this.refuse(principal, 'system account', meta);
      throw new AppException(ErrorCode.Forbidden, 'A built-in system account has no password to change');
    }
    // As at login: bcrypt would compare only the first 72 bytes of a longer password, so that never matches.
    const matches =
      !isBeyondBcrypt(dto.current_password) &&
      (await this.passwords.verify(dto.current_password, user.passwordHash));
    if (!matches) {
      await this.refuse(principal, 'wrong password', meta);
      // Guessing the current password with a stolen token is throttled like guessing it at login: per client.
      await this.failures.recordFailure(meta.ip);
      throw wrongPassword();
    }
    if (dto.new_password === dto.current_password) {
      await this.refuse(principal, 'same password', meta);
      throw AppException.invalidField('new_password', 'must differ from the current password');
    }
    const newHash = await this.passwords.hash(dto.new_password);
    const issued = await this.transactions.run(async () => {
      // A concurrent change already replaced the hash checked above: that password is no longer current.
      const locked = await this.users.findByIdForUpdate(user.userId);
      if (locked?.passwordHash !== user.passwordHash) return null;
      await this.users.setPasswordHash(user.userId, newHash);
      // Whoever knew the old password (or holds a token from it) loses what it gave them, as at logout-all.
      const { revokedTokens: revoked, accessTokenEpoch } = await this.refreshTokens.endSessions(
        user.userId,
        'logout_all',
      );
      await this.audit.record(
        {
          action: AuditAction.AuthPasswordChanged,
          status: 'success',
          userId: user.userId,
          resourceType: 'user',
          resourceId: user.userId,
          metadata: { revoked_tokens: revoked },
        },
        meta,
      );
      // The new access token carries the raised epoch, so it outlives the cut-off.
      const refreshToken = await this.refreshTokens.issueFamily(user.userId, meta);
      return { user: { ...locked, accessTokenEpoch }, refreshToken };
    });
    if (!issued) {
      await this.refuse(principal, 'wrong password', meta);
      throw wrongPassword();
    }
    this.statuses.invalidate(user.userId); // this replica refuses the old access tokens at once
    this.metrics.authEvent('password_change');
    return this.accessTokens.pair(issued.user, issued.refreshToken);
  }

  /** Written outside any transaction, so it stays although the request answers 4xx. Never a password. */
  private async refuse(principal: Principal, cause: Refusal, meta: RequestMeta): Promise<void> {
    await this.audit.record(
      {
        action: AuditAction.AuthPasswordChanged,
        status: 'failure',
        userId: principal.userId,
        resourceType: 'user',
        resourceId: principal.userId,
        errorMessage: cause,
      },
      meta,
    );
    this.metrics.authEvent('password_change_failure');
  }
}
