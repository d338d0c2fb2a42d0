import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { DatabaseConfig } from './database.config';
import { DatabaseSession } from './transaction-runner';

/** Tables whose rows are updated or deleted in normal operation: their dead row versions are what VACUUM frees. */
export const CHURNING_TABLES = [
  'tasks',
  'task_runs',
  'task_idempotency_keys',
  'task_queue_places',
  'control_plane_clock',
  'nodes',
  'node_heartbeat_history',
  'api_keys',
  'users',
  'refresh_tokens',
  'audit_log',
  'throttle_overrides',
  'wasm_modules',
  'module_owners',
  'content_objects',
  'content_chunks',
] as const;

/**
 * The embedded database runs PostgreSQL in single-user mode, where no autovacuum runs: without this, every
 * update (a heartbeat, a task's status) would leave a dead row version and index entries behind for good, the
 * data directory would grow without bound, and the planner would never get statistics. Every
 * EMBEDDED_VACUUM_INTERVAL_SECS it runs `VACUUM (ANALYZE)` on the tables that churn, one at a time (each
 * blocks the one session for milliseconds on a small table). PostgreSQL servers vacuum themselves.
 */
@Injectable()
export class EmbeddedVacuum implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('EmbeddedVacuum');
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | null = null;

  constructor(
    private readonly session: DatabaseSession,
    private readonly config: DatabaseConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.session.singleSession || this.config.embeddedVacuumIntervalMs === 0) return;
    this.timer = setInterval(() => void this.vacuum(), this.config.embeddedVacuumIntervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.pass;
  }

  /** One pass over the churning tables; a pass already under way is joined, not doubled. Never throws. */
  vacuum(): Promise<void> {
    this.pass ??= this.vacuumTables().finally(() => (this.pass = null));
    return this.pass;
  }

  private async vacuumTables(): Promise<void> {
    const started = performance.now();
    try {
      // Table names are the constants above, never input. VACUUM cannot run in a transaction: each is its own.
      for (const table of CHURNING_TABLES) await this.session.query(`VACUUM (ANALYZE) ${table}`);
      this.logger.debug({ msg: 'embedded database vacuumed', ms: Math.round(performance.now() - started) });
    } catch (error) {
      this.logger.warn({
        msg: 'embedded database vacuum failed; retried next interval',
        error: String(error),
      });
    }
  }
}
