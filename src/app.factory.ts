import { RequestMethod } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { bootstrapLogger } from './logging/bootstrap-logger';
import { FrameworkChatterFilter } from './logging/framework-chatter';
import { AppModule, AppModuleOptions } from './app.module';
import { EarlyAuthentication } from './auth/early-authentication.hook';
import { answerClientError, registerExpectationAnswer } from './common/http/client-errors';
import { ConnectionDraining } from './common/http/connection-draining';
import { registerRouteBodyLimits } from './common/http/body-limit';
import { registerBodyParsers } from './common/http/body-parsers';
import { corsResponseHeaders, enableCors } from './common/http/cors';
import { frameworkErrorHandler } from './common/http/framework-errors';
import { registerLingeringClose } from './common/http/lingering-close';
import { registerNulInUrlCheck } from './common/http/nul-in-url';
import { requestIdFor } from './common/http/request-id';
import { ROUTER_OPTIONS } from './common/http/route-templates';
import { registerSecurityHeaders, securityHeaders } from './common/http/security-headers';
import { WriteCoalescer } from './common/http/write-coalescing';
import { AppConfig } from './config/app-config';
import { RequestLogger } from './logging/request-logger';
import { HttpMetricsHook } from './metrics/http-metrics.hook';
import { registerOpenApi } from './openapi/openapi';
import { RefusedResults } from './scheduling/refused-results';

export const API_PREFIX = 'api/v1';

export function createFastifyAdapter(config: AppConfig): FastifyAdapter {
  const requestTimeout = config.http.requestTimeoutMs;
  return new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    // A body trickled a byte at a time (slowloris) would hold its connection forever: Node ends a request not
    // received within requestTimeout with a 408 (answerClientError). Node checks only every
    // connectionsCheckingInterval, so that is a tenth of the timeout: the cut comes within 1.1 × the timeout.
    requestTimeout,
    http: {
      requestTimeout,
      headersTimeout: Math.min(60_000, requestTimeout),
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeout / 10))),
    },
    clientErrorHandler: answerClientError,
    // A URL the router refuses (bad percent-encoding, over-long parameter) gets the API's error body and headers.
    frameworkErrors: frameworkErrorHandler(
      securityHeaders(config.http),
      corsResponseHeaders(config.http.corsAllowedOrigins),
    ),
    genReqId: requestIdFor,
    // X-Forwarded-For is believed only from these proxies; otherwise a client could choose its own IP.
    trustProxy: config.http.trustedProxyCidrs.length > 0 ? [...config.http.trustedProxyCidrs] : false,
    logger: false,
    // No Nest middleware is mounted (request lines are a Fastify hook), so @fastify/middie's hook would only cost.
    skipMiddie: true,
    routerOptions: { ...ROUTER_OPTIONS },
    // Fastify's own 503 while closing is not in the API's format: ConnectionDraining answers instead.
    return503OnClosing: false,
  });
}

/** Everything an app needs around its modules; shared by main.ts and the end-to-end tests. */
export async function configureApp(
  app: NestFastifyApplication,
  config: AppConfig,
): Promise<NestFastifyApplication> {
  app.useLogger(new FrameworkChatterFilter(app.get(Logger)));
  app.flushLogs();
  // Prometheus scrapes /metrics by convention; everything else lives under /api/v1.
  app.setGlobalPrefix(API_PREFIX, { exclude: [{ path: 'metrics', method: RequestMethod.GET }] });
  app.get(HttpMetricsHook).register(app);
  app.get(RequestLogger).register(app);
  registerBodyParsers(app);
  registerRouteBodyLimits(app, config.http.bodyLimitBytes);
  registerSecurityHeaders(app, config.http);
  registerLingeringClose(app);
  registerExpectationAnswer(app.getHttpAdapter().getInstance());
  new WriteCoalescer().attach(app.getHttpServer());
  enableCors(app, config.http.corsAllowedOrigins);
  app.get(ConnectionDraining).register(app);
  registerNulInUrlCheck(app);
  // After the request id, security headers and CORS hooks, so an early 401/403 carries them.
  app.get(EarlyAuthentication).register(app);
  app.get(RefusedResults).register(app);
  await registerOpenApi(app, config.core.version);
  return app;
}

/**
 * The app, logging JSON from its first line (bootstrapLogger). A failed start rejects (abortOnError: false)
 * instead of Nest printing its own report and exiting: main.ts says why in one line.
 */
export async function createApp(
  config: AppConfig,
  options: AppModuleOptions = {},
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, options),
    createFastifyAdapter(config),
    { logger: bootstrapLogger(config, options.logDestination), abortOnError: false },
  );
  return configureApp(app, config);
}
