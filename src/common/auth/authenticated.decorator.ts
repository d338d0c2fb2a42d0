import { applyDecorators, SetMetadata } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExtension,
  ApiForbiddenResponse,
  ApiSecurity,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Role, Scope } from './scopes';

export const AUTH_REQUIREMENTS_KEY = 'vcp:authRequirements';

export interface AuthRequirements {
  /** The caller's role must be one of these. */
  roles?: readonly Role[];
  /** The caller's credential must carry every one of these scopes. */
  scopes?: readonly Scope[];
  /**
   * Only a login session's access token (bearer JWT), never an API key, whatever its scopes: for what would let
   * a leaked script key take the account over (its password). `keys:manage` cannot serve: a key may carry it.
   */
  sessionOnly?: boolean;
}

/**
 * The one decorator for protected routes: role and scope requirements (enforced by AuthorizationGuard after the
 * global AuthenticationGuard) plus the matching Swagger security and error responses.
 */
export function Authenticated(requirements: AuthRequirements = {}, { apiKeyOnly = false } = {}) {
  return applyDecorators(
    SetMetadata(AUTH_REQUIREMENTS_KEY, requirements),
    // Machine-readable in the OpenAPI document, so clients (and the scope-matrix test) know what each route needs.
    ApiExtension('x-required-scopes', requirements.scopes ?? []),
    ApiExtension('x-required-roles', requirements.roles ?? []),
    // `apiKeyOnly`: the route itself refuses a bearer token (it is about the key), so the document offers none.
    ...(apiKeyOnly ? [] : [ApiBearerAuth('bearer')]),
    ...(requirements.sessionOnly ? [] : [ApiSecurity('api-key')]),
    ApiUnauthorizedResponse({ description: 'Missing, invalid or expired credentials (`unauthorized`)' }),
    ApiForbiddenResponse({
      description: requirements.sessionOnly
        ? 'Authenticated, but not by a login session: an API key cannot do this (`forbidden`)'
        : 'Authenticated, but the role or scopes do not allow this (`forbidden`)',
    }),
  );
}
