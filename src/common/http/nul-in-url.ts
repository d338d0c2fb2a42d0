import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppException } from '../errors/app.exception';

/**
 * A NUL (`%00`) in a path parameter or query value reaches SQL as U+0000, which PostgreSQL text cannot hold:
 * a 500 on every route that looks such a value up. No id, name or filter of the API contains one, so the URL
 * is refused before routing (422, like a NUL in a JSON body).
 */
export function registerNulInUrlCheck(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
      if (!request.url.includes('%00')) return done();
      done(AppException.validation([{ field: 'url', message: 'must not contain a NUL character (%00)' }]));
    });
}
