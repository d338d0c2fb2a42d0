import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RouteOptions } from 'fastify';
import { AppConfig } from '../../config/app-config';
import { addRouteConfig } from './route-config';

/** Computes a route's body limit from the configuration, at boot. */
export type BodyLimitResolver = (config: AppConfig) => number;

const BODY_LIMIT_KEY = 'vcpBodyLimit';

/**
 * A per-route body limit in place of BODY_LIMIT_BYTES. Nest's Fastify adapter passes only a route's `config`
 * (from `@RouteConfig`) to Fastify, not its `bodyLimit`, so this puts a resolver into that config and
 * `registerRouteBodyLimits` turns it into the route's real `bodyLimit` when Fastify adds the route. Merges
 * with other route-config decorators (a plain `@RouteConfig` placed above it would replace it: decorators
 * apply bottom-up).
 */
export function BodyLimit(resolve: BodyLimitResolver): MethodDecorator {
  return addRouteConfig({ [BODY_LIMIT_KEY]: resolve });
}

/** Must run before the app's routes are registered (`app.init()`), like the rest of `configureApp`. */
export function registerRouteBodyLimits(app: NestFastifyApplication, config: AppConfig): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route: RouteOptions) => {
      const resolve = (route.config as Record<string, unknown> | undefined)?.[BODY_LIMIT_KEY];
      if (typeof resolve !== 'function') return;
      const limit = (resolve as BodyLimitResolver)(config);
      if (!Number.isSafeInteger(limit) || limit <= 0) throw new Error(`bad body limit for ${route.url}`);
      // Fastify's route bodyLimit takes precedence over the content-type parser's (BODY_LIMIT_BYTES).
      route.bodyLimit = limit;
    });
}
