import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DestinationStream } from 'pino';
import {
  containsApiKey,
  decodeQueryComponent,
  isCredentialParamName,
  queryValueHoldsApiKey,
} from '../common/auth/credentials-in-url';
import { CoreConfig } from '../common/config/core.config';
import { requestIdFor } from '../common/http/request-id';
import { LoggingConfig } from './logging.config';
import { requestLogFields } from './request-log-context';

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

/**
 * Credentials in a URL's query string (which we refuse anyway) never reach the log: a parameter named like a
 * credential, or whose name or value (percent-decoded, so `%76cp_…` is caught too) holds something shaped
 * like a VCP key, is written as `[redacted]`.
 */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const params = url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      const decodedName = decodeQueryComponent(name);
      if (containsApiKey(decodedName) || containsApiKey(name)) return '[redacted]';
      const value = eq < 0 ? '' : pair.slice(eq + 1);
      const secret =
        isCredentialParamName(decodedName) ||
        containsApiKey(decodeQueryComponent(value)) ||
        containsApiKey(value);
      return secret ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, at)}?${params.join('&')}`;
}

function redactQuery(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(query).map(([k, v]) =>
      containsApiKey(k)
        ? ['[redacted]', '[redacted]']
        : [k, isCredentialParamName(k) || queryValueHoldsApiKey(v) ? '[redacted]' : v],
    ),
  );
}

/** An `autoLogging.ignore` that lets each raw request through once. */
export function loggedOnce(): (req: IncomingMessage) => boolean {
  const seen = new WeakSet<IncomingMessage>();
  return (req) => {
    if (seen.has(req)) return true;
    seen.add(req);
    return false;
  };
}

@Module({})
export class LoggingModule {
  static forRoot(destination?: DestinationStream): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRootAsync({
          inject: [LoggingConfig, CoreConfig],
          useFactory: (logging: LoggingConfig, core: CoreConfig) => ({
            pinoHttp: [
              {
                level: logging.level,
                // Fastify already picked the request id (see requestIdFor); middie copies it onto the raw request.
                genReqId: (req: IncomingMessage) =>
                  (req as IncomingMessage & { id?: string }).id ?? requestIdFor(req),
                customAttributeKeys: { reqId: 'request_id', responseTime: 'duration_ms' },
                // One line per request names the route template, the status and the caller's id.
                customProps: requestLogFields,
                quietReqLogger: true,
                // Nest applies this middleware twice to routes excluded from the global prefix (/metrics): the
                // second pass would log the request again. A raw request is logged by its first pass only.
                autoLogging: { ignore: loggedOnce() },
                redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
                customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) =>
                  err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
                base: { service: 'vcp', version: core.version },
                serializers: {
                  req: (req: { url?: string; query?: Record<string, unknown> }) => ({
                    ...req,
                    url: req.url ? redactUrl(req.url) : req.url,
                    query: req.query ? redactQuery(req.query) : req.query,
                  }),
                  // Response headers repeat what every response carries; status and timing are what matter.
                  res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
                },
              },
              destination ?? process.stdout,
            ],
          }),
        }),
      ],
    };
  }
}
