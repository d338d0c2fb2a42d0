import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OnSendDone } from './fastify-hooks';

/**
 * Graceful shutdown: once the app starts closing, every response still being written says
 * `Connection: close`. Otherwise a keep-alive client whose request was in flight holds its socket open and
 * the server's close waits on it until the deadline.
 */
@Injectable()
export class ConnectionDraining implements BeforeApplicationShutdown {
  private draining = false;

  get isDraining(): boolean {
    return this.draining;
  }

  beforeApplicationShutdown(): void {
    this.draining = true;
  }

  register(app: NestFastifyApplication): void {
    app
      .getHttpAdapter()
      .getInstance()
      .addHook(
        'onSend',
        (_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: OnSendDone) => {
          if (this.draining) void reply.header('connection', 'close');
          done(null, payload);
        },
      );
  }
}
