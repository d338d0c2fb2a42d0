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
 * route refuses a query parameter it does not take (UnknownInputGuard).
 */
export const IgnoresQuery = () =>
  applyDecorators(SetMetadata(IGNORES_QUERY_KEY, true), ApiExtension(IGNORES_QUERY_EXTENSION, true));

const QUERY_ARGUMENT = `${RouteParamtypes.QUERY}:`;
const BODY_ARGUMENT = `${RouteParamtypes.BODY}:`;

/**
 * The kinds of parameter a handler takes (Nest keys a handler's parameters `<type>:<index>`): whether it has a
 * `@Query()` or a `@Body()`. Routes read their query through one DTO, which refuses the rest; a named
 * `@Query('x')` alone would let others through.
 */
function argumentKeys(controller: Type, handler: Type): string[] {
  const parameters = Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler.name) as object | undefined;
  return Object.keys(parameters ?? {});
}

function hasOwnKey(value: object): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return true;
  return false;
}

/** What a route refuses that it does not take, cached per handler. */
interface Refuses {
  query: boolean;
  body: boolean;
}

/**
 * A route with a `@Query()` DTO refuses a parameter the DTO does not list (the global pipe: 422, `is not an
 * allowed field`); this gives every route that takes no query the same answer for any parameter, instead of
 * silently ignoring it (a client sending `?all=true` where no such filter exists would think it applied).
 * Likewise a route that takes no body refuses one with fields (`{"reason": …}` to a cancel was dropped in
 * silence), or one that is not an object; `{}` and `null`, which clients send for "nothing", pass.
 * A guard, run last, so it answers where the pipe would: after 401, 403 and 429, and after a credential in the
 * URL is refused as such (401, never a 422 that hides it). A request without a query or body costs a loop over
 * an empty object; the route's answer is read only when one is present, and cached per handler.
 */
@Injectable()
export class UnknownInputGuard implements CanActivate {
  private readonly refusing = new WeakMap<object, WeakMap<object, Refuses>>();

  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    // getArgByIndex, not switchToHttp(): that one allocates three closures per call.
    const request = context.getArgByIndex<FastifyRequest | undefined>(0);
    const query = request?.query;
    if (typeof query === 'object' && query !== null && hasOwnKey(query) && this.refuses(context).query) {
      throw AppException.validation(
        Object.keys(query).map((field) => ({ field, message: UNKNOWN_FIELD_MESSAGE })),
      );
    }
    const body: unknown = request?.body;
    if (body === undefined || body === null) return true;
    const isObject = typeof body === 'object' && !Array.isArray(body) && !Buffer.isBuffer(body);
    if (isObject && !hasOwnKey(body)) return true;
    if (!this.refuses(context).body) return true;
    throw AppException.validation(
      isObject
        ? Object.keys(body).map((field) => ({ field, message: UNKNOWN_FIELD_MESSAGE }))
        : [{ field: 'body', message: 'this route takes no body' }],
    );
  }

  private refuses(context: ExecutionContext): Refuses {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byClass = this.refusing.get(handler);
    if (!byClass) this.refusing.set(handler, (byClass = new WeakMap<object, Refuses>()));
    let refuses = byClass.get(controller);
    if (refuses === undefined) {
      const keys = argumentKeys(controller, handler as Type);
      refuses = {
        query:
          !keys.some((key) => key.startsWith(QUERY_ARGUMENT)) &&
          !routeMetadata<boolean>(this.reflector, IGNORES_QUERY_KEY, context),
        body: !keys.some((key) => key.startsWith(BODY_ARGUMENT)),
      };
      byClass.set(controller, refuses);
    }
    return refuses;
  }
}
