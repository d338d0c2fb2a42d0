import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino, { DestinationStream } from 'pino';
import { CoreConfig } from '../common/config/core.config';
import { batchedStdout } from './line-batcher';
import { LoggingConfig } from './logging.config';
import { REDACTED_PATHS } from './redaction';
import { RequestLogger } from './request-logger';

export { REDACTED_PATHS, redactUrl } from './redaction';

/**
 * One pino logger per app, built once: JSON lines with `service` and `version`, credentials redacted. Request
 * lines are written from a Fastify hook (RequestLogger); nestjs-pino still serves Nest's Logger (app logs) from
 * a child of it, but mounts no per-request middleware (`forRoutes: []`).
 */
@Module({})
export class LoggingModule {
  static forRoot(destination?: DestinationStream): DynamicModule {
    // Provided both here (for the hook) and inside nestjs-pino's module (its root): one instance per app.
    let built: RequestLogger | undefined;
    const requestLoggerProvider = {
      provide: RequestLogger,
      inject: [LoggingConfig, CoreConfig],
      useFactory: (logging: LoggingConfig, core: CoreConfig) => {
        if (built) return built;
        const stream = destination ?? batchedStdout();
        const options = { level: logging.level, base: { service: 'vcp', version: core.version } };
        const app = pino({ ...options, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, stream);
        return (built = new RequestLogger(app, pino(options, stream)));
      },
    };
    return {
      module: LoggingModule,
      // Global: any feature may write a line through the app's one logger (see RequestLogger.plainLine).
      global: true,
      providers: [requestLoggerProvider],
      exports: [RequestLogger],
      imports: [
        LoggerModule.forRootAsync({
          providers: [requestLoggerProvider],
          inject: [RequestLogger],
          useFactory: (requests: RequestLogger) => ({
            pinoHttp: { logger: requests.appLogger },
            forRoutes: [],
          }),
        }),
      ],
    };
  }
}
