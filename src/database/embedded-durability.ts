import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { CoreConfig } from '../common/config/core.config';
import { DatabaseSession } from './transaction-runner';

export const EMBEDDED_DURABILITY_WARNING =
  'the embedded database (PGlite) runs PostgreSQL with fsync off: a killed or crashed server loses nothing, but ' +
  'a power loss or an operating-system crash can lose the last writes or leave DATA_DIR/pgdata unopenable. For ' +
  'data you cannot lose, set DATABASE_URL to a PostgreSQL server, or back DATA_DIR up (README: "Backup and restore")';

/**
 * Production may run on the embedded database (one small instance needs no server), but PGlite never flushes
 * its writes to disk (its file system layer has no fsync, and it sets fsync off): said once at start there, so
 * an operator learns it before a power cut does. Read from the database, so a PGlite that flushes is not
 * warned about.
 */
@Injectable()
export class EmbeddedDurabilityWarning implements OnApplicationBootstrap {
  private readonly logger = new Logger('Database');

  constructor(
    private readonly session: DatabaseSession,
    private readonly core: CoreConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.session.singleSession || !this.core.isProduction) return;
    const [setting] = await this.session.query<{ fsync: string }>('SHOW fsync');
    if (setting?.fsync !== 'on') this.logger.warn(EMBEDDED_DURABILITY_WARNING);
  }
}
