import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Injectable,
  SetMetadata,
  Type,
} from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { Reflector } from '@nestjs/core';
import { ApiExtension } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AppException } from '../errors/app.exception';
import { routeMetadata } from './route-metadata';
import { UNKNOWN_FIELD_MESSAGE } from '../validation/validation.pipe';

export const IGNORES_QUERY_KEY = 'vcp:ignoresQuery';
/** Marks the operations of such routes in the OpenAPI document (src/openapi/document-fixes.ts). */
export const IGNORES_QUERY_EXTENSION = 'x-ignores-query';

/**
 * For probes and scrapers only (health checks, `/metrics`): the route reads no query parameter and ignores any,
 * because load balancers and monitoring systems add their own (cache busting, Prometheus `params`). Every other
 * route refuses a query parameter it does not take (UnknownQueryGuard).
 */
export const IgnoresQuery = () =>
  applyDecorators(SetMetadata(IGNORES_QUERY_KEY, true), ApiExtension(IGNORES_QUERY_EXTENSION, true));

const QUERY_ARGUMENT = `${RouteParamtypes.QUERY}:`;

/**
 * Whether a handler takes a `@Query()` parameter (Nest keys a handler's parameters `<type>:<index>`). Routes read
 * their query through one DTO, which refuses the rest; a named `@Query('x')` alone would let others through.
 */
function takesQuery(controller: Type, handler: Type): boolean {
  const parameters = Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler.name) as object | undefined;
  return Object.keys(parameters ?? {}).some((key) => key.startsWith(QUERY_ARGUMENT));
}

function hasOwnKey(query: object): boolean {
  for (const key in query) if (Object.hasOwn(query, key)) return true;
  return false;
}

/**
 * A route with a `@Query()` DTO refuses a parameter the DTO does not list (the global pipe: 422, `is not an
 * allowed field`); this gives every route that takes no query the same answer for any parameter, instead of
 * silently ignoring it (a client sending `?all=true` where no such filter exists would think it applied).
 * A guard, run last, so it answers where the pipe would: after 401, 403 and 429, and after a credential in the
 * URL is refused as such (401, never a 422 that hides it). A request without a query costs one loop over an
 * empty object; the route's answer is read only when a query is present, and cached per handler.
 */
@Injectable()
export class UnknownQueryGuard implements CanActivate {
  private readonly refusing = new WeakMap<object, WeakMap<object, boolean>>();

  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    // getArgByIndex, not switchToHttp(): that one allocates three closures per call.
    const query = context.getArgByIndex<FastifyRequest | undefined>(0)?.query;
    if (typeof query !== 'object' || query === null || !hasOwnKey(query)) return true;
    if (!this.refusesQuery(context)) return true;
    throw AppException.validation(
      Object.keys(query).map((field) => ({ field, message: UNKNOWN_FIELD_MESSAGE })),
    );
  }

  private refusesQuery(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byClass = this.refusing.get(handler);
    if (!byClass) this.refusing.set(handler, (byClass = new WeakMap<object, boolean>()));
    let refuses = byClass.get(controller);
    if (refuses === undefined) {
      refuses =
        !takesQuery(controller, handler as Type) &&
        !routeMetadata<boolean>(this.reflector, IGNORES_QUERY_KEY, context);
      byClass.set(controller, refuses);
    }
    return refuses;
  }
}
