import {
  applyDecorators,
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import { isRejectedByPipes } from '@nestjs/core/router/rejected-by-pipes';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { catchError, Observable } from 'rxjs';
import type { Principal } from '../common/auth/principal';
import { requestMetaOf } from '../common/auth/request-context.decorator';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { addRouteConfig } from '../common/http/route-config';
import { isUuid } from '../common/validation/uuid';
import { validateDto } from '../common/validation/validate-dto';
import { RunResultRequestDto } from './dto/result.dto';
import { RunRelease } from './run-release';

const ENDS_LEASE_KEY = 'vcpEndsLeaseWhenRefused';

/** Fastify's refusals of a JSON body it read in full: empty, or not JSON. */
const NOT_JSON = new Set(['FST_ERR_CTP_EMPTY_JSON_BODY', 'FST_ERR_CTP_INVALID_JSON_BODY']);

/**
 * The body parser's refusals of a body it read in full: not JSON or a prototype-poisoning key (400), too deep
 * or text PostgreSQL cannot store (422). Not a 413 or a body cut short (never read in full: a retry may
 * succeed, and the body limit is the server's configuration, not the node's fault), nor a 415.
 */
function refusedByParser(error: unknown): boolean {
  if (error instanceof AppException) {
    return error.getStatus() === 400 || error.code === ErrorCode.ValidationError;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NOT_JSON.has(code);
}

/** Whether the body fails the result's validation (checked again: the refusal may be a header's). */
const refusesBody = (body: unknown): Promise<boolean> =>
  validateDto(RunResultRequestDto, body).then(
    () => false,
    () => true,
  );

/**
 * The fence a parsed body names (a string, or a number as sent), or null when it names none: not an object,
 * no fence, or a fence of another type.
 */
function fenceNamedBy(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || !Object.hasOwn(body, 'fence')) return null;
  const fence = (body as { fence: unknown }).fence;
  return typeof fence === 'string' || typeof fence === 'number' ? String(fence) : null;
}

/**
 * The result route: a result its node sends for the run's live lease, refused before the service reads it,
 * ends that lease at once (RunRelease.refuseResult: outcome `result_invalid`, the task queued again with its
 * attempt given back) instead of holding the node's slot until the lease expires and then costing the task an
 * attempt as a lost lease. Two places refuse such a body: the body parser (see refusedByParser), seen by the
 * route's onError hook, and the DTO's validation (422), seen by this interceptor. Either waits for the lease
 * to end, then lets the refusal be answered exactly as before; a failure to end it is logged and the lease
 * expires as it used to.
 */
@Injectable()
export class RefusedResults implements NestInterceptor {
  constructor(private readonly release: RunRelease) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    return next.handle().pipe(catchError((error: unknown) => this.afterRefusal(request, error)));
  }

  /** Adds the onError hook to the routes marked @EndsLeaseWhenRefused; before the app's routes are registered. */
  register(app: NestFastifyApplication): void {
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRoute', (route: RouteOptions) => {
        if ((route.config as Record<string, unknown> | undefined)?.[ENDS_LEASE_KEY] !== true) return;
        // Awaited before the error handler answers. Only errors sent through Fastify get here (the body
        // parser's, the early authentication's): Nest answers the handler's and the pipes' itself.
        const onError = async (request: FastifyRequest, _reply: FastifyReply, error: Error) => {
          if (refusedByParser(error)) await this.endLease(request, null);
        };
        const existing = route.onError;
        route.onError = [
          ...(Array.isArray(existing) ? existing : existing ? [existing] : []),
          onError,
        ] as RouteOptions['onError'];
      });
  }

  /**
   * The body's refusal only: the service's own refusals (a wrong output_hash, a stray or missing proof: see
   * RunResultService.submit; a signature; a 409) are decided there, and a malformed header alone says nothing of the result, which the node may resend without it.
   */
  private async afterRefusal(request: FastifyRequest, error: unknown): Promise<never> {
    if (
      isRejectedByPipes(request) &&
      error instanceof AppException &&
      error.code === ErrorCode.ValidationError &&
      (await refusesBody(request.body))
    ) {
      await this.endLease(request, fenceNamedBy(request.body));
    }
    throw error;
  }

  /**
   * Ends the run's lease if the caller is the node holding it live (and the body named no other fence). A user
   * or another node changes nothing: the route admits node keys only, and the lease must be the caller's own.
   */
  private async endLease(request: FastifyRequest, fence: string | null): Promise<void> {
    const nodeId = (request as FastifyRequest & { user?: Principal }).user?.nodeId;
    const runId = (request.params as { run_id?: unknown } | undefined)?.run_id;
    if (nodeId === undefined || !isUuid(runId)) return;
    // Security: only the lease's own node ends it, as it could by reporting the run failed: no new power.
    const caller = {
      userId: (request as FastifyRequest & { user?: Principal }).user!.userId,
      meta: requestMetaOf(request),
    };
    await this.release.refuseResultQuietly(runId, nodeId, fence, caller);
  }
}

/** On the result route: see RefusedResults. Register RefusedResults' hook in configureApp. */
export function EndsLeaseWhenRefused(): MethodDecorator {
  return applyDecorators(UseInterceptors(RefusedResults), addRouteConfig({ [ENDS_LEASE_KEY]: true }));
}
