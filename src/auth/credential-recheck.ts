import { Global, Injectable, Module } from '@nestjs/common';
import { ApiKeyAuthService } from '../api-keys/api-key-auth.service';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { CredentialCheck, CredentialHeaders } from '../common/auth/credential-check';
import type { Principal } from '../common/auth/principal';
import { UserStatusCache } from '../users/user-status.cache';
import { UsersModule } from '../users/users.module';

/**
 * CredentialCheck by the same caches the authentication guard reads (a 2 s window, at once on the replica that
 * made the change): the key is authenticated again; an access token's account must still be enabled, in the
 * same role, and at the token's epoch. A token's own expiry does not end a stream it opened.
 */
@Injectable()
export class CredentialRecheck extends CredentialCheck {
  constructor(
    private readonly statuses: UserStatusCache,
    private readonly apiKeys: ApiKeyAuthService,
  ) {
    super();
  }

  async holds(headers: CredentialHeaders, principal: Principal): Promise<boolean> {
    if (principal.authMethod === 'api_key') {
      const key = headers['x-api-key'];
      if (typeof key !== 'string') return false;
      const check = await this.apiKeys.authenticate(key);
      return check.ok && check.principal.keyId === principal.keyId && check.principal.role === principal.role;
    }
    const status = await this.statuses.get(principal.userId);
    if (!status || status.disabled || status.role !== principal.role) return false;
    return principal.accessTokenEpoch === status.accessTokenEpoch;
  }
}

/** Global, so a feature injects CredentialCheck (from common) without importing the auth module. */
@Global()
@Module({
  imports: [ApiKeysModule, UsersModule],
  providers: [{ provide: CredentialCheck, useClass: CredentialRecheck }],
  exports: [CredentialCheck],
})
export class CredentialCheckModule {}
