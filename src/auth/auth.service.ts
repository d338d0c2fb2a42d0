import { Injectable } from '@nestjs/common';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { AuditAction } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { TransactionRunner } from '../database/transaction-runner';
import { isUniqueViolation, usernameTaken, UsersRepository } from '../users/users.repository';
import { UserStatusCache } from '../users/user-status.cache';
import { AccessTokenService } from './access-token.service';
import { AuthConfig } from './auth.config';
import {
  LoginDto,
  MeDto,
  RegisterDto,
  RegisterResponseDto,
  TokenPairDto,
  toMeDto,
  toRegisterResponseDto,
} from './dto/auth.dto';
import { isBeyondBcrypt, PasswordHasher } from './password';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { RefreshTokenService, RotationResult } from './refresh-token.service';

const invalidLogin = () => new AppException(ErrorCode.Unauthorized, 'Invalid username or password');
const invalidRefresh = () => new AppException(ErrorCode.Unauthorized, 'Invalid or expired refresh token');

@Injectable()
export class AuthService {
  constructor(
    private readonly transactions: TransactionRunner,
    private readonly users: UsersRepository,
    private readonly passwords: PasswordHasher,
    private readonly accessTokens: AccessTokenService,
    private readonly refreshTokens: RefreshTokenService,
    private readonly audit: AuditService,
    private readonly apiKeys: ApiKeysService,
    private readonly metrics: VcpMetrics,
    private readonly statuses: UserStatusCache,
    private readonly config: AuthConfig,
  ) {}

  async register(dto: RegisterDto, meta: RequestMeta): Promise<RegisterResponseDto> {
    // Refused before the password is hashed: a closed server spends no bcrypt on it.
    if (this.config.registration === 'closed') {
      await this.audit.record(
        {
          action: AuditAction.AuthRegister,
          status: 'failure',
          errorMessage: ErrorReason.RegistrationClosed,
          metadata: { username: dto.username.slice(0, 64) },
        },
        meta,
      );
      throw new AppException(
        ErrorCode.Forbidden,
        'Registration is closed on this server: an admin creates accounts (POST /api/v1/admin/users)',
        { reason: ErrorReason.RegistrationClosed },
      );
    }
    const passwordHash = await this.passwords.hash(dto.password);
    try {
      const user = await this.transactions.run(async () => {
        const created = await this.users.create({
          username: dto.username,
          passwordHash,
          email: dto.email ?? null,
        });
        await this.audit.record(
          {
            action: AuditAction.AuthRegister,
            status: 'success',
            userId: created.userId,
            resourceType: 'user',
            resourceId: created.userId,
          },
          meta,
        );
        const apiKey = await this.apiKeys.createDefault(created.userId, meta);
        return { user: created, apiKey };
      });
      this.metrics.authEvent('register');
      return toRegisterResponseDto(user.user, user.apiKey);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // Recorded like a failed login (registration is rate limited like it): after the rollback, so it stays.
      await this.audit.record(
        {
          action: AuditAction.AuthRegister,
          status: 'failure',
          errorMessage: 'username or email taken',
          metadata: { username: dto.username.slice(0, 64) },
        },
        meta,
      );
      throw usernameTaken();
    }
  }

  async login(dto: LoginDto, meta: RequestMeta): Promise<TokenPairDto> {
    // PostgreSQL text cannot hold NUL (the query would fail): such a name belongs to no account.
    const user = dto.username.includes('\0') ? null : await this.users.findByUsername(dto.username);
    // bcrypt reads only 72 bytes, so a longer password (which registration refuses) would match on its first
    // 72: it is checked against the dummy hash instead, and fails exactly like a wrong password.
    const checkable = user !== null && !isBeyondBcrypt(dto.password);
    // Always one bcrypt comparison, against a dummy hash for unknown users: equal time either way.
    const matches = await this.passwords.verify(
      dto.password,
      checkable ? user.passwordHash : await this.passwords.dummy(),
    );
    if (!user || !checkable || !matches || user.disabledAt) {
      await this.audit.record(
        {
          action: AuditAction.AuthLogin,
          status: 'failure',
          userId: user?.userId ?? null,
          errorMessage: user?.disabledAt && matches ? 'account disabled' : 'invalid credentials',
          metadata: { username: dto.username.slice(0, 64) },
        },
        meta,
      );
      this.metrics.authEvent('login_failure');
      throw invalidLogin();
    }
    const refreshToken = await this.transactions.run(async () => {
      await this.users.recordLogin(user.userId);
      const token = await this.refreshTokens.issueFamily(user.userId, meta);
      await this.audit.record(
        { action: AuditAction.AuthLogin, status: 'success', userId: user.userId },
        meta,
      );
      return token;
    });
    this.metrics.authEvent('login_success');
    return this.accessTokens.pair(user, refreshToken);
  }

  async refresh(presented: string, meta: RequestMeta): Promise<TokenPairDto> {
    const result = await this.refreshTokens.rotate(presented, meta);
    const user = result.kind === 'rotated' ? await this.users.findById(result.userId) : null;
    if (result.kind === 'reuse_detected') this.statuses.invalidate(result.userId); // its tokens were cut
    if (result.kind !== 'rotated' || !user) {
      // A detected reuse wrote its own row (auth.refresh_reuse_detected) in the transaction that acted on it.
      if (result.kind === 'invalid') await this.refreshRefused(result, meta);
      this.metrics.authEvent(result.kind === 'reuse_detected' ? 'refresh_reuse_detected' : 'refresh_failure');
      throw invalidRefresh();
    }
    this.metrics.authEvent('refresh');
    return this.accessTokens.pair(user, result.refreshToken);
  }

  /** Idempotent: an unknown or already revoked token is not an error (nothing to reveal, nothing to undo). */
  async logout(presented: string, meta: RequestMeta): Promise<void> {
    await this.refreshTokens.revokeFamilyOf(presented, meta);
  }

  async logoutAll(principal: Principal, meta: RequestMeta): Promise<void> {
    await this.transactions.run(async () => {
      const { revokedTokens: revoked } = await this.refreshTokens.endSessions(principal.userId, 'logout_all');
      await this.audit.record(
        {
          action: AuditAction.AuthLogoutAll,
          status: 'success',
          userId: principal.userId,
          metadata: { revoked_tokens: revoked },
        },
        meta,
      );
    });
    // This replica refuses the old access tokens at once; the others within USER_STATUS_TTL_MS.
    this.statuses.invalidate(principal.userId);
  }

  async me(principal: Principal): Promise<MeDto> {
    const user = await this.users.findById(principal.userId);
    if (!user) throw new AppException(ErrorCode.Unauthorized, 'Valid credentials are required');
    return toMeDto(user, principal.scopes);
  }

  /** Like a failed login: anonymous but rate limited (tier `auth`), so a row per attempt is affordable. */
  private async refreshRefused(
    refusal: Extract<RotationResult, { kind: 'invalid' }>,
    meta: RequestMeta,
  ): Promise<void> {
    await this.audit.record(
      {
        action: AuditAction.AuthRefresh,
        status: 'failure',
        userId: refusal.userId ?? null,
        ...(refusal.familyId ? { resourceType: 'refresh_token_family', resourceId: refusal.familyId } : {}),
        errorMessage: refusal.reason,
      },
      meta,
    );
  }
}
