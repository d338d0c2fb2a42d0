import type { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger } from 'pino';
import { FrameworkChatterFilter } from './framework-chatter';
import { APP_VERSION_PATTERN, packageVersion } from '../common/config/core.config';
import { batchedStdout } from './line-batcher';
import { LOG_LEVELS } from './logging.config';

/**
 * Nest's logger until the app's own takes over (configureApp): the same JSON lines, level and destination as
 * the app logger, written at once. Buffering them instead (bufferLogs) meant that a start that failed — a
 * database that does not answer, an unusable directory — printed its buffer through Nest's coloured console
 * logger, debug lines included, whatever LOG_LEVEL said, and only once TypeORM had given up.
 */
export function bootstrapLogger(
  config: { logging: { level: string }; core: { version: string } },
  destination?: DestinationStream,
): LoggerService {
  const logger = pino(
    { level: config.logging.level, base: { service: 'vcp', version: config.core.version } },
    destination ?? batchedStdout(),
  );
  return new FrameworkChatterFilter(new PinoLoggerService(logger));
}

/**
 * The `fatal` line of a start refused for its settings (exit 78), which come before any configuration, hence
 * any logger: a log pipeline reading stdout sees why, as for every other failed start. Written at once.
 */
export function logRefusedSettings(
  message: string,
  env: NodeJS.ProcessEnv = process.env,
  destination: DestinationStream = pino.destination({ sync: true }),
): void {
  const level = env.LOG_LEVEL !== undefined && LOG_LEVELS.includes(env.LOG_LEVEL) ? env.LOG_LEVEL : 'info';
  // Only a valid APP_VERSION: the refused one may be what the line reports, and a message never echoes a value.
  const { APP_VERSION } = env;
  const version =
    APP_VERSION !== undefined && APP_VERSION_PATTERN.test(APP_VERSION) ? APP_VERSION : packageVersion();
  const logger = bootstrapLogger({ logging: { level }, core: { version } }, destination);
  logger.fatal?.(`startup failed: ${message}`, 'Bootstrap');
}

/** Nest's LoggerService over a pino logger: `{context, msg}` lines, as nestjs-pino writes them. */
class PinoLoggerService implements LoggerService {
  constructor(private readonly pino: Logger) {}

  log = (message: unknown, ...rest: unknown[]) => this.write('info', message, rest);
  error = (message: unknown, ...rest: unknown[]) => this.write('error', message, rest);
  warn = (message: unknown, ...rest: unknown[]) => this.write('warn', message, rest);
  debug = (message: unknown, ...rest: unknown[]) => this.write('debug', message, rest);
  verbose = (message: unknown, ...rest: unknown[]) => this.write('trace', message, rest);
  fatal = (message: unknown, ...rest: unknown[]) => this.write('fatal', message, rest);

  /** Nest passes `(message, context)`, and for errors `(message, stack, context)`. */
  private write(level: pino.Level, message: unknown, rest: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const context = typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : undefined;
    const stack = rest.length > 1 && typeof rest[0] === 'string' ? rest[0] : undefined;
    const fields = { context, ...(stack ? { stack } : {}) };
    if (message instanceof Error) this.pino[level]({ ...fields, err: message }, message.message);
    else this.pino[level](fields, typeof message === 'string' ? message : JSON.stringify(message));
  }
}
