import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { AUTH_REQUIREMENTS_KEY, AuthRequirements } from '../../common/auth/authenticated.decorator';
import { IS_PUBLIC_KEY } from '../../common/auth/public.decorator';
import type { Principal } from '../../common/auth/principal';

/** Runs after AuthenticationGuard: the principal's role and scopes must meet the route's @Authenticated(). */
@Injectable()
export class AuthorizationGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const principal = context.switchToHttp().getRequest<FastifyRequest & { user?: Principal }>().user;
    if (!principal) throw new AppException(ErrorCode.Unauthorized, 'Valid credentials are required');
    const requirements = this.reflector.getAllAndOverride<AuthRequirements | undefined>(
      AUTH_REQUIREMENTS_KEY,
      targets,
    );
    if (requirements?.roles?.length && !requirements.roles.includes(principal.role)) {
      throw new AppException(
        ErrorCode.Forbidden,
        `This action requires the ${requirements.roles.join(' or ')} role`,
      );
    }
    const missing = (requirements?.scopes ?? []).filter((scope) => !principal.scopes.includes(scope));
    if (missing.length > 0) {
      throw new AppException(ErrorCode.Forbidden, `Missing scope: ${missing.join(', ')}`);
    }
    return true;
  }
}
