import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AuditModule } from '../audit/audit.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { UsersModule } from '../users/users.module';
import { AccessTokenService } from './access-token.service';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { PasswordHasher } from './password';
import { PasswordChangeService } from './password-change.service';
import { RefreshTokenService } from './refresh-token.service';
import { RefreshTokensRepository } from './refresh-tokens.repository';
import { JwtStrategy } from './strategies/jwt.strategy';

@Module({
  imports: [
    PassportModule,
    JwtModule.register({}),
    ApiKeysModule,
    UsersModule,
    AuditModule,
    // A wrong current password on a password change counts as a failed authentication.
    RateLimitModule,
  ],
  controllers: [AuthController],
  providers: [
    AuthService,
    PasswordChangeService,
    AccessTokenService,
    RefreshTokenService,
    RefreshTokensRepository,
    PasswordHasher,
    JwtStrategy,
  ],
  // ApiKeysModule: the authentication guard (registered in app.module.ts) needs ApiKeyAuthService.
  exports: [PasswordHasher, RefreshTokenService, ApiKeysModule],
})
export class AuthModule {}
