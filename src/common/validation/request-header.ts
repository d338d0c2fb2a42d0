import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** One request header (lowercase name), as sent: `RequestHeader('idempotency-key', pipe)` checks it with a pipe. */
export const RequestHeader = createParamDecorator(
  (name: string, ctx: ExecutionContext): unknown =>
    ctx.switchToHttp().getRequest<FastifyRequest>().headers[name],
);
