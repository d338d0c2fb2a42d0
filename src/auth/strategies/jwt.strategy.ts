import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { UserStatusCache } from '../../users/user-status.cache';
import { AuthConfig } from '../auth.config';
import { AccessTokenClaims, JWT_ALGORITHM, JWT_AUDIENCE, JWT_ISSUER } from '../access-token.service';
import type { Principal } from '../../common/auth/principal';
import { ROLE_SCOPES } from '../../common/auth/scopes';
import { isUuid } from '../../common/validation/uuid';

const NO_BEARER_TOKEN = { message: 'No auth token' };

export const invalidToken = () => new AppException(ErrorCode.Unauthorized, 'Invalid or expired access token');

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    config: AuthConfig,
    private readonly statuses: UserStatusCache,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // A KeyObject (see AuthConfig.jwtKey); passport-jwt hands it to jsonwebtoken unchanged.
      secretOrKey: config.jwtKey as unknown as string,
      algorithms: [JWT_ALGORITHM],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: 0 },
    });
  }

  /**
   * A request without an Authorization header (every X-API-Key request: nodes, agents, scripts) is declined at
   * once, so the API-key strategy runs next. passport-jwt would get there too, but only after building an Error
   * (a stack capture) for each such request.
   */
  override authenticate(request: { headers: Record<string, unknown> }, options?: object): void {
    if (request.headers.authorization === undefined) return this.fail(NO_BEARER_TOKEN, 401);
    super.authenticate(request as never, options);
  }

  /** Signature, algorithm, iss, aud, exp and nbf were checked by passport-jwt; the rest is checked here. */
  async validate(claims: Partial<AccessTokenClaims>): Promise<Principal> {
    // jsonwebtoken accepts a token without exp; an access token that never expires is refused here.
    if (claims.typ !== 'access' || typeof claims.exp !== 'number' || typeof claims.sub !== 'string') {
      throw invalidToken();
    }
    if (!isUuid(claims.sub)) throw invalidToken();
    const status = await this.statuses.get(claims.sub);
    if (!status || status.disabled) throw invalidToken();
    // A token from before the last logout-all or refresh-token reuse carries an older epoch: it is cut.
    if ((claims.epoch ?? 0) !== status.accessTokenEpoch) throw invalidToken();
    // The role comes from the account, not the token, so a demotion applies without waiting for expiry.
    return {
      userId: status.userId,
      username: status.username,
      role: status.role,
      scopes: ROLE_SCOPES[status.role],
      authMethod: 'jwt',
      accessTokenEpoch: status.accessTokenEpoch,
    };
  }
}
