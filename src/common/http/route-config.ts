import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';

/**
 * Adds entries to a route's Fastify `config` (what `@RouteConfig` sets), keeping those already there, so
 * decorators built on it combine in any order. Nest's Fastify adapter forwards only `config` to Fastify;
 * hooks and parsers read it from `request.routeOptions.config` or in an `onRoute` hook.
 */
export function addRouteConfig(entries: Record<string, unknown>): MethodDecorator {
  return (_target, _key, descriptor: PropertyDescriptor) => {
    const handler = descriptor.value as object;
    const existing = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) ?? {}) as object;
    Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...existing, ...entries }, handler);
    return descriptor;
  };
}
