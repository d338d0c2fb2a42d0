import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import type { Role } from '../common/auth/scopes';
import { AuthConfig } from './auth.config';
import type { TokenPairDto } from './dto/auth.dto';

export const JWT_ISSUER = 'vcp';
export const JWT_AUDIENCE = 'vcp-api';
/** HS256 only: pinning the algorithm closes alg=none and RS/HS key-confusion attacks. */
export const JWT_ALGORITHM = 'HS256';

export interface AccessTokenClaims {
  sub: string;
  typ: 'access';
  role: Role;
  iss: string;
  aud: string | string[];
  iat: number;
  exp: number;
  nbf?: number;
  jti: string;
  /** The account's access-token epoch at issue; absent on tokens from before it existed (read as 0). */
  epoch?: number;
}

@Injectable()
export class AccessTokenService {
  constructor(
    private readonly jwt: JwtService,
    private readonly config: AuthConfig,
  ) {}

  get ttlSeconds(): number {
    return this.config.accessTokenTtlSeconds;
  }

  /** `epoch`: the account's access-token epoch now (UserRecord.accessTokenEpoch); 0 for a fresh account. */
  sign(userId: string, role: Role, epoch = 0): string {
    return this.jwt.sign(
      { typ: 'access', role, epoch },
      {
        secret: this.config.jwtKey as unknown as string,
        algorithm: JWT_ALGORITHM,
        subject: userId,
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
        expiresIn: this.ttlSeconds,
        jwtid: randomUUID(),
      },
    );
  }

  /** What login, refresh and a password change answer: an access token for `user` beside its refresh token. */
  pair(user: { userId: string; role: Role; accessTokenEpoch: number }, refreshToken: string): TokenPairDto {
    return {
      access_token: this.sign(user.userId, user.role, user.accessTokenEpoch),
      refresh_token: refreshToken,
      token_type: 'Bearer',
      expires_in: this.ttlSeconds,
    };
  }
}
