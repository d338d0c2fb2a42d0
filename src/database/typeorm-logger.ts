import { Logger as NestLogger } from '@nestjs/common';
import { Logger as TypeOrmLogger } from 'typeorm';
import { LOCK_NOT_AVAILABLE, MIGRATION_LOCK_WAIT } from './migration-lock';

const UNIQUE_VIOLATION = '23505';

const sqlStateOf = (error: string | Error): string | undefined =>
  typeof error === 'string' ? undefined : (error as { code?: string }).code;

/**
 * Routes TypeORM's messages into the app's JSON log. Failed queries are logged without their parameters:
 * parameters can carry user data and token hashes, which have no place in logs.
 */
export class TypeOrmLogAdapter implements TypeOrmLogger {
  private readonly logger = new NestLogger('Database');

  logQuery(): void {}

  logQueryError(error: string | Error, query: string): void {
    const message = error instanceof Error ? error.message : error;
    const line = `query failed: ${message} — ${query.slice(0, 500)}`;
    // A unique violation is how the code learns of a duplicate (a taken username, a racing claim) and answers
    // it (409, a retry): expected, so not a warning an operator should chase.
    const code = sqlStateOf(error);
    if (code === UNIQUE_VIOLATION) this.logger.debug?.(line);
    // The migration lock's bounded wait running out: MigrationLockTimeoutError says so, naming the holder.
    else if (code === LOCK_NOT_AVAILABLE && query === MIGRATION_LOCK_WAIT) this.logger.debug?.(line);
    else this.logger.warn(line);
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn(`slow query (${time} ms): ${query.slice(0, 500)}`);
  }

  logSchemaBuild(): void {}

  logMigration(message: string): void {
    this.logger.log(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else this.logger.debug?.(String(message));
  }
}
