// First: an unsupported Node gets a sentence, not a stack from the first dependency it cannot load.
import './common/runtime/require-supported-node';
import 'reflect-metadata';
import { Logger, LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from './app.factory';
import { ConfigValidationError, EX_CONFIG, SettingsError } from './common/config/problems';
import { ConnectionDraining } from './common/http/connection-draining';
import { listenFailure } from './common/http/listen-failure';
import { loadConfig } from './config/load-config';
import { misspelledVariables } from './config/misspelled-variables';
import { outageCoverageWarnings } from './outages/outage-coverage';
import { bootstrapLogger, logRefusedSettings } from './logging/bootstrap-logger';

/** Set once the configuration is read: a failed start is then also told as a JSON line, at `fatal`. */
let startupLog: LoggerService | undefined;

/**
 * SIGTERM/SIGINT: answer new requests 503, let in-flight requests finish (ConnectionDraining stops what still
 * runs shortly before the deadline), close pools, exit 0; exit 1 if closing outlasts the deadline. Nest's own
 * shutdown hooks re-raise the signal after closing (exit by signal, not 0), so the signals are handled here.
 */
function handleShutdown(app: NestFastifyApplication, deadlineMs: number): void {
  const logger = new Logger('Shutdown');
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal} received: draining requests and closing`);
    const started = performance.now();
    // Started with the deadline's timer, so that the cutoff is measured from the same instant.
    app.get(ConnectionDraining).begin();
    const deadline = setTimeout(() => {
      logger.error(`still closing after ${deadlineMs} ms; exiting`);
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    app.close().then(
      () => {
        logger.log(`closed in ${Math.round(performance.now() - started)} ms; exiting 0`);
        process.exit(0);
      },
      (error: unknown) => {
        logger.error(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    // No logger yet, but a log pipeline reading stdout must see why (DATA_DIR/secrets.json damaged, say).
    console.error(
      error instanceof ConfigValidationError ? error.message : `startup failed: ${error.message}`,
    );
    logRefusedSettings(error.message);
    process.exit(EX_CONFIG);
  }
  startupLog = bootstrapLogger(config);
  for (const warning of misspelledVariables(process.env)) startupLog.warn(warning, 'Config');
  const coverage = outageCoverageWarnings({
    creditAfterSecs: config.outages.creditAfterSecs,
    leaseSecs: config.scheduling.leaseSecs,
    heartbeatIntervalSecs: config.nodes.heartbeatIntervalSecs,
    offlineAfterSecs: config.nodes.offlineAfterSecs,
  });
  for (const warning of coverage) startupLog.warn(warning, 'Config');
  const app = await createApp(config);
  handleShutdown(app, config.http.shutdownTimeoutMs);
  await app.listen(config.http.port, config.http.host).catch((error: unknown) => {
    throw listenFailure(error, config.http.host, config.http.port);
  });
  // getUrl() names a loopback address for a wildcard bind: say the server answers on every interface too.
  const wildcard = config.http.host === '0.0.0.0' || config.http.host === '::';
  const bound = wildcard ? ` (bound to ${config.http.host}: every interface)` : '';
  const where = config.database.url ? 'PostgreSQL' : `embedded PostgreSQL (PGlite) in ${config.core.dataDir}`;
  new Logger('Bootstrap').log(
    `VCP ${config.core.version} (${config.core.environment}) listening on ${await app.getUrl()}${bound} — database: ${where}; ` +
      `Swagger UI at /swagger-ui`,
  );
}

bootstrap().catch((error: unknown) => {
  const reason = error instanceof Error ? error.message : String(error);
  startupLog?.fatal?.(`startup failed: ${reason}`, 'Bootstrap');
  console.error('startup failed:', reason);
  // E.g. ADMIN_USERNAME names an account whose password is not ADMIN_PASSWORD: the operator's settings to fix.
  process.exit(error instanceof SettingsError ? EX_CONFIG : 1);
});
