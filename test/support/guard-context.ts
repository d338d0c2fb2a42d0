import type { Type } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../src/common/auth/principal';
import { AppException } from '../../src/common/errors/app.exception';

/**
 * Guards under unit test get the same ExecutionContext Nest builds for an HTTP route: a real
 * ExecutionContextHost around a request, a reply and the controller class + handler whose decorators the
 * guard reads through a real Reflector. Only the Fastify request and reply are stand-ins.
 */
export interface FakeRequestInit {
  method?: string;
  /** The route template (Fastify's routeOptions.url), e.g. `/v1/things/:id`. */
  route?: string;
  url?: string;
  ip?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  user?: Principal;
}

export type FakeRequest = FastifyRequest & { user?: Principal };

let requestIds = 0;

export function fakeRequest(init: FakeRequestInit = {}): FakeRequest {
  const route = init.route ?? '/v1/probe';
  return {
    id: `req-${++requestIds}`,
    method: init.method ?? 'GET',
    url: init.url ?? route,
    routeOptions: { url: route },
    ip: init.ip ?? '203.0.113.7',
    headers: { 'user-agent': 'unit-test', ...init.headers },
    query: init.query ?? {},
    ...(init.user ? { user: init.user } : {}),
  } as unknown as FakeRequest;
}

/** Records the headers a guard sets, the one part of the reply guards use. */
export class FakeReply {
  readonly headers = new Map<string, string>();

  header(name: string, value: string): this {
    this.headers.set(name, value);
    return this;
  }

  asReply(): FastifyReply {
    return this as unknown as FastifyReply;
  }
}

export function httpContext<T>(
  controller: Type<T>,
  handler: keyof T & string,
  request: FastifyRequest,
  reply: FakeReply = new FakeReply(),
): ExecutionContextHost {
  const method = (controller.prototype as Record<string, unknown>)[handler];
  if (typeof method !== 'function') throw new Error(`${controller.name}.${handler} is not a handler`);
  // Nest passes [request, reply, next] to guards of an HTTP route.
  return new ExecutionContextHost([request, reply.asReply(), undefined], controller, method);
}

export interface RaisedAppError {
  status: number;
  code: string;
  /** Only when the error names one (the body's `reason`). */
  reason?: string;
  message: string;
}

/** What a guard threw, as the client would see it (status and stable code); fails if it did not throw one. */
export async function appErrorOf(run: () => unknown): Promise<RaisedAppError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof AppException) {
      const reason = error.publicReason === undefined ? {} : { reason: error.publicReason };
      return { status: error.getStatus(), code: error.code, ...reason, message: error.message };
    }
    throw error;
  }
  throw new Error('expected an AppException, but the call succeeded');
}
