import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { ApiKeyAuthService } from '../api-keys/api-key-auth.service';
import { AccessDenialAudit } from '../audit/access-denials';
import { FailedAuthenticationThrottle } from '../common/auth/failed-authentication.throttle';
import { largeBodyRouteOf } from '../common/http/body-limit';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { AuthenticationGuard } from './guards/authentication.guard';
import { markAuthenticatedEarly } from './guards/authenticated-early';
import { AuthorizationGuard } from './guards/authorization.guard';

/**
 * Routes that accept large bodies (`@BodyLimit`: circuit uploads up to 50 MB, modules) run the global
 * authentication and authorization guards in Fastify's `onRequest`, before the body is read: otherwise anyone
 * without credentials could make the server read and parse 50 MB per request before the 401. These are the
 * same guard classes with the same route metadata, in the same order, so the answers are the same (401, 403,
 * failed-authentication throttling and audit); the global AuthenticationGuard then sees the principal and does
 * not authenticate twice, and AuthorizationGuard and the rate limit run as on every route. The early answer is
 * followed by a bounded discard of the unread body (lingering-close.ts), never by reading it into memory.
 */
@Injectable()
export class EarlyAuthentication {
  private readonly authentication: AuthenticationGuard;
  private readonly authorization: AuthorizationGuard;

  constructor(
    reflector: Reflector,
    apiKeys: ApiKeyAuthService,
    failures: FailedAuthenticationThrottle,
    denials: AccessDenialAudit,
    metrics: VcpMetrics,
  ) {
    this.authentication = new AuthenticationGuard(reflector, apiKeys, failures, metrics);
    this.authorization = new AuthorizationGuard(reflector, denials);
  }

  /**
   * Attaches the check as a route-level onRequest hook of the large-body routes only (it runs after the
   * global onRequest hooks: request id, security headers, CORS), so every other route pays nothing for it.
   * Must run before the app's routes are registered, like the rest of `configureApp`.
   */
  register(app: NestFastifyApplication): void {
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRoute', (routeOptions: RouteOptions) => {
        const route = largeBodyRouteOf(routeOptions.config);
        if (!route) return;
        const authenticateEarly = async (request: FastifyRequest, reply: FastifyReply) => {
          const context = new ExecutionContextHost(
            [request, reply],
            route.controller as never,
            route.handler,
          );
          context.setType('http');
          // Both throw the API's AppException (401/403/429); Fastify hands it to the global exception filter.
          await this.authentication.canActivate(context);
          this.authorization.canActivate(context);
          markAuthenticatedEarly(request);
        };
        const existing = routeOptions.onRequest;
        routeOptions.onRequest = [
          ...(Array.isArray(existing) ? existing : existing ? [existing] : []),
          authenticateEarly,
        ] as RouteOptions['onRequest'];
      });
  }
}
