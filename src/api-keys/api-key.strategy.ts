import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { HeaderAPIKeyStrategy } from 'passport-headerapikey';
import type { Principal } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { ApiKeyAuthService, ApiKeyFailure, RefusedKey } from './api-key-auth.service';

export const API_KEY_HEADER = 'X-API-Key';

/** Carries why a key was refused, so the guard can audit it with the request's metadata. */
export class ApiKeyRejected extends AppException {
  constructor(
    readonly reason: ApiKeyFailure,
    readonly key?: RefusedKey,
  ) {
    super(ErrorCode.Unauthorized, 'Invalid, expired or revoked API key');
  }
}

@Injectable()
export class ApiKeyStrategy extends PassportStrategy(HeaderAPIKeyStrategy, 'api-key') {
  constructor(private readonly keys: ApiKeyAuthService) {
    super({ header: API_KEY_HEADER, prefix: '' }, false);
  }

  async validate(apiKey: string): Promise<Principal> {
    const result = await this.keys.authenticate(apiKey);
    if (!result.ok) throw new ApiKeyRejected(result.reason, result.key);
    return result.principal;
  }
}
