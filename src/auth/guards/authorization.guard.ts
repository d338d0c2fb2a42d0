import { CanActivate, ExecutionContext, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { AUTH_REQUIREMENTS_KEY, AuthRequirements } from '../../common/auth/authenticated.decorator';
import { NODE_AGENT_KEY, NodeAgentAccess } from '../../common/auth/node-agent.decorator';
import { IS_PUBLIC_KEY } from '../../common/auth/public.decorator';
import { routeMetadata } from '../../common/http/route-metadata';
import type { Principal } from '../../common/auth/principal';
import { Scope } from '../../common/auth/scopes';
import { requestMetaOf } from '../../common/auth/request-context.decorator';
import { AccessDenialAudit } from '../../audit/access-denials';

/**
 * Runs after AuthenticationGuard: the principal's role and scopes must meet the route's @Authenticated().
 * Node keys are judged apart: they pass only @NodeAgent routes, and only for their own node.
 */
@Injectable()
export class AuthorizationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Optional() private readonly denials?: AccessDenialAudit,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (routeMetadata<boolean>(this.reflector, IS_PUBLIC_KEY, context)) return true;
    const request = context.getArgByIndex<FastifyRequest & { user?: Principal }>(0); // no switchToHttp() closures
    const principal = request.user;
    if (!principal) throw new AppException(ErrorCode.Unauthorized, 'Valid credentials are required');
    const agent = routeMetadata<NodeAgentAccess>(this.reflector, NODE_AGENT_KEY, context);
    if (principal.nodeId !== undefined) return this.allowAgent(principal, agent, request);
    if (agent && !agent.users) {
      throw new AppException(ErrorCode.Forbidden, 'Only the node’s own key can call this route');
    }
    const requirements = routeMetadata<AuthRequirements>(this.reflector, AUTH_REQUIREMENTS_KEY, context);
    if (requirements?.sessionOnly && principal.authMethod !== 'jwt') {
      throw new AppException(
        ErrorCode.Forbidden,
        'This needs a login session (a bearer token), not an API key',
      );
    }
    if (requirements?.roles?.length && !requirements.roles.includes(principal.role)) {
      if (requirements.roles.includes('admin')) {
        const route = `${request.method} ${request.routeOptions.url ?? request.url}`;
        this.denials?.adminRouteDenied(principal, route, requestMetaOf(request));
      }
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

  /** A node key: an agent route, the agent scope, and (when the path names a node) its own node. */
  private allowAgent(
    principal: Principal,
    agent: NodeAgentAccess | undefined,
    request: FastifyRequest,
  ): boolean {
    if (!agent || !principal.scopes.includes(Scope.NodesAgent)) {
      throw new AppException(ErrorCode.Forbidden, 'A node key can only call its own node’s agent routes');
    }
    if (agent.nodeParam !== undefined) {
      const nodeId = (request.params as Record<string, string | undefined>)[agent.nodeParam];
      // Another node's routes look like a node that does not exist, as they do to other users.
      if (nodeId !== principal.nodeId) throw AppException.notFound('Node not found');
    }
    return true;
  }
}
