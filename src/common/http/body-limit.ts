import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RouteOptions } from 'fastify';
import { AppConfig } from '../../config/app-config';

/** Computes a route's body limit from the configuration, at boot. */
export type BodyLimitResolver = (config: AppConfig) => number;

const BODY_LIMIT_KEY = 'vcpBodyLimit';

/**
 * A per-route body limit in place of BODY_LIMIT_BYTES. Nest's Fastify adapter passes only a route's `config`
 * (from `@RouteConfig`) to Fastify, not its `bodyLimit`, so this puts a resolver into that config and
 * `registerRouteBodyLimits` turns it into the route's real `bodyLimit` when Fastify adds the route. Merges
 * with a `@RouteConfig` placed below it (decorators apply bottom-up; one placed above would replace it).
 */
export function BodyLimit(resolve: BodyLimitResolver): MethodDecorator {
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const handler = descriptor.value as object;
    const existing = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) ?? {}) as object;
    Reflect.defineMetadata(
      FASTIFY_ROUTE_CONFIG_METADATA,
      { ...existing, [BODY_LIMIT_KEY]: resolve },
      handler,
    );
    return descriptor;
  };
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
