import type { LoggerService } from '@nestjs/common';
import { ExplainedError } from '../common/config/problems';
import { EXPLAINED_LISTEN_CODES } from '../common/http/listen-failure';

/**
 * Nest's own start-up lines: one per module ("… dependencies initialized"), controller and route ("Mapped
 * {…}") — about a hundred at `info`, which bury the one line that says where the server listens. They are
 * logged at `debug` instead (`LOG_LEVEL=debug` shows them).
 */
const CHATTY_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

const EXPLAINED_LISTEN_FAILURE = new RegExp(`\\b(${EXPLAINED_LISTEN_CODES.join('|')})\\b`);

/**
 * Nest's own report of a failed start that main.ts then explains in one line: the error an ExplainedError
 * (with its stack, from ExceptionHandler), or listen()'s error line for a code listenFailure names. Any other
 * error still gets Nest's report, stack included: that is what finds an unexpected fault.
 */
function explainedElsewhere(message: unknown, context: unknown): boolean {
  if (context === 'ExceptionHandler') return message instanceof ExplainedError;
  return (
    context === 'NestApplication' && typeof message === 'string' && EXPLAINED_LISTEN_FAILURE.test(message)
  );
}

/**
 * The app's logger, with Nest's start-up chatter and its reports of explained start failures moved to `debug`;
 * everything else passes through.
 */
export class FrameworkChatterFilter implements LoggerService {
  constructor(private readonly logger: LoggerService) {}

  log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams.at(-1);
    if (typeof context === 'string' && CHATTY_CONTEXTS.has(context)) {
      this.logger.debug?.(message, ...optionalParams);
      return;
    }
    this.logger.log(message, ...optionalParams);
  }

  error(message: unknown, ...optionalParams: unknown[]): void {
    if (explainedElsewhere(message, optionalParams.at(-1))) {
      this.logger.debug?.(message, ...optionalParams);
      return;
    }
    this.logger.error(message, ...optionalParams);
  }

  warn(message: unknown, ...optionalParams: unknown[]): void {
    this.logger.warn(message, ...optionalParams);
  }

  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.logger.debug?.(message, ...optionalParams);
  }

  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.logger.verbose?.(message, ...optionalParams);
  }

  fatal(message: unknown, ...optionalParams: unknown[]): void {
    this.logger.fatal?.(message, ...optionalParams);
  }
}
