import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DestinationStream } from 'pino';
import { AppConfig } from '../config/app-config';
import { requestIdFor } from '../common/http/request-id';

/**
 * Credentials never reach a log line: headers that carry them and body fields that name them are replaced by
 * "[redacted]" (pino's fast-redact, applied before serialisation).
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...['password', 'token', 'access_token', 'refresh_token', 'api_key', 'secret', 'authorization'].flatMap(
    (k) => [k, `*.${k}`, `*.*.${k}`],
  ),
];

@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig, destination?: DestinationStream): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: [
            {
              level: config.logLevel,
              // Fastify already picked the request id (see requestIdFor); middie copies it onto the raw request.
              genReqId: (req: IncomingMessage) =>
                (req as IncomingMessage & { id?: string }).id ?? requestIdFor(req),
              customAttributeKeys: { reqId: 'request_id' },
              quietReqLogger: true,
              redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
              customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) =>
                err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
              base: { service: 'vcp', version: config.version },
              serializers: {
                // Response headers repeat what every response carries; status and timing are what matter.
                res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
              },
            },
            destination ?? process.stdout,
          ],
        }),
      ],
    };
  }
}
