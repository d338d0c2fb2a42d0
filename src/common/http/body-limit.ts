import type { Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RouteOptions } from 'fastify';
import { addRouteConfig } from './route-config';

/** What a route's body limit may depend on. */
export interface BodyLimitContext {
  /** BODY_LIMIT_BYTES: the limit of every route without its own. */
  readonly defaultLimit: number;
  /** A provider of the app, typically the feature's config class. */
  readonly get: <T>(token: Type<T>) => T;
}

/** Computes a route's body limit from the configuration, at boot. */
export type BodyLimitResolver = (context: BodyLimitContext) => number;

const BODY_LIMIT_KEY = 'vcpBodyLimit';

/**
 * A per-route body limit in place of BODY_LIMIT_BYTES. Nest's Fastify adapter passes only a route's `config`
 * (from `@RouteConfig`) to Fastify, not its `bodyLimit`, so this puts a resolver into that config and
 * `registerRouteBodyLimits` turns it into the route's real `bodyLimit` when Fastify adds the route. Merges
 * with other route-config decorators (a plain `@RouteConfig` placed above it would replace it: decorators
 * apply bottom-up).
 */
export function BodyLimit(resolve: BodyLimitResolver): MethodDecorator {
  return (target, key, descriptor: PropertyDescriptor) => {
    const route: LargeBodyRoute = {
      controller: target.constructor,
      handler: descriptor.value as LargeBodyRoute['handler'],
    };
    return addRouteConfig({ [BODY_LIMIT_KEY]: resolve, [LARGE_BODY_ROUTE_KEY]: route })(
      target,
      key,
      descriptor,
    );
  };
}

const LARGE_BODY_ROUTE_KEY = 'vcpLargeBodyRoute';

/** The controller method behind a route with its own body limit, so a hook can read its metadata. */
export interface LargeBodyRoute {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- what Nest's ExecutionContext takes
  controller: Function;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  handler: Function;
}

/**
 * Routes with their own (larger) body limit are authenticated in `onRequest`, before Fastify reads the body
 * (see src/auth/early-authentication.hook.ts); this finds such a route from a request's route config.
 */
export function largeBodyRouteOf(routeConfig: unknown): LargeBodyRoute | undefined {
  return (routeConfig as Record<string, LargeBodyRoute | undefined> | undefined)?.[LARGE_BODY_ROUTE_KEY];
}

/** Must run before the app's routes are registered (`app.init()`), like the rest of `configureApp`. */
export function registerRouteBodyLimits(app: NestFastifyApplication, defaultLimit: number): void {
  const context: BodyLimitContext = { defaultLimit, get: (token) => app.get(token) };
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route: RouteOptions) => {
      const resolve = (route.config as Record<string, unknown> | undefined)?.[BODY_LIMIT_KEY];
      if (typeof resolve !== 'function') return;
      const limit = (resolve as BodyLimitResolver)(context);
      if (!Number.isSafeInteger(limit) || limit <= 0) throw new Error(`bad body limit for ${route.url}`);
      // Fastify's route bodyLimit takes precedence over the content-type parser's (BODY_LIMIT_BYTES).
      route.bodyLimit = limit;
    });
}
