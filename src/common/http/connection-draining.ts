import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppException } from '../errors/app.exception';
import { ErrorReason } from '../errors/error-code';
import type { OnSendDone } from './fastify-hooks';
import { HttpConfig } from './http.config';

/** Of the shutdown deadline, what is kept after the cutoff to close the server and the pools (at most 1/4). */
const CLOSING_MARGIN_MS = 2000;

/** The answer to a request the server will not serve because it is stopping: 503, retry elsewhere or later. */
export function shuttingDown(message = 'The server is shutting down; retry shortly'): AppException {
  return AppException.overloaded(message, 1000, ErrorReason.ShuttingDown);
}

/**
 * Graceful shutdown. Once draining begins (SIGTERM in main.ts, else app.close()), a new request is answered
 * 503 `service_unavailable` + `shutting_down` with Retry-After, in the API's error format (in place of
 * Fastify's own 503, see createFastifyAdapter), and every response says `Connection: close`: otherwise a
 * keep-alive client whose request was in flight holds its socket open and the server's close waits on it until
 * the deadline. Requests in flight go on; what still runs at `cutoff`, shortly before the deadline
 * (SHUTDOWN_TIMEOUT_MS), is to stop and answer 503, so the process closes and exits 0 in time.
 */
@Injectable()
export class ConnectionDraining implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private draining = false;
  private readonly cut = new AbortController();
  private cutTimer: NodeJS.Timeout | undefined;

  constructor(private readonly http: HttpConfig) {}

  get isDraining(): boolean {
    return this.draining;
  }

  /** Aborted at the cutoff: long work still under way then (a module run) stops and answers `shuttingDown`. */
  get cutoff(): AbortSignal {
    return this.cut.signal;
  }

  /** From the start of draining to the cutoff: SHUTDOWN_TIMEOUT_MS less the closing margin. */
  get cutoffAfterMs(): number {
    const deadline = this.http.shutdownTimeoutMs;
    return deadline - Math.min(CLOSING_MARGIN_MS, deadline / 4);
  }

  /** Starts draining (idempotent); the cutoff comes `cutoffAfterMs` later. */
  begin(): void {
    if (this.draining) return;
    this.draining = true;
    this.cutTimer = setTimeout(() => {
      this.logger.warn('shutdown deadline near: stopping the work still running');
      this.cut.abort();
    }, this.cutoffAfterMs);
    this.cutTimer.unref();
  }

  beforeApplicationShutdown(): void {
    this.begin();
  }

  /** Every request has ended by now (the HTTP server has closed). */
  onApplicationShutdown(): void {
    clearTimeout(this.cutTimer);
  }

  /** After the request id, security headers and CORS hooks, so the 503 carries them. */
  register(app: NestFastifyApplication): void {
    const fastify = app.getHttpAdapter().getInstance();
    fastify.addHook(
      'onRequest',
      (_request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) =>
        this.draining ? done(shuttingDown()) : done(),
    );
    fastify.addHook(
      'onSend',
      (_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: OnSendDone) => {
        if (this.draining) void reply.header('connection', 'close');
        done(null, payload);
      },
    );
  }
}
