import { Logger } from '@nestjs/common';
import type { QueryRunner } from 'typeorm';
import { ExplainedError } from '../common/config/problems';

/** The session-level advisory lock migrations run under (advisory locks are per database). */
const MIGRATION_LOCK_KEY = `hashtextextended('vcp.migrations', 0)`;
export const LOCK_NOT_AVAILABLE = '55P03';
/** The wait that DB_MIGRATION_LOCK_TIMEOUT_SECS bounds: its timeout is told as MigrationLockTimeoutError. */
export const MIGRATION_LOCK_WAIT = `SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`;

/**
 * The migration lock was still held by another session when DB_MIGRATION_LOCK_TIMEOUT_SECS ran out. Not a
 * setting to fix (exit 1, like a port still taken): another replica's migrations, or a stuck session, which a
 * restart after it ends gets past.
 */
export class MigrationLockTimeoutError extends ExplainedError {
  override readonly name = 'MigrationLockTimeoutError';
}

interface HolderRow {
  pid: number;
  application_name: string | null;
  client_addr: string | null;
  state: string | null;
  since: string | null;
}

/** Who holds the migration lock, from pg_locks and pg_stat_activity (null: nobody any more). */
async function lockHolder(runner: QueryRunner): Promise<string | null> {
  // A bigint advisory key is split over classid (high 32 bits) and objid (low 32 bits), with objsubid 1.
  const rows = (await runner.query(
    `SELECT l.pid, a.application_name, host(a.client_addr) AS client_addr, a.state,
            to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS since
       FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::bigint << 32) | l.objid::bigint) = ${MIGRATION_LOCK_KEY}`,
  )) as HolderRow[];
  if (!rows.length) return null;
  const [holder] = rows;
  const name = holder.application_name ? `"${holder.application_name}"` : 'no application_name';
  const from = holder.client_addr ? ` from ${holder.client_addr}` : '';
  const state = holder.state ? `, ${holder.state}` : '';
  const since = holder.since ? `, connected since ${holder.since}` : '';
  return `PostgreSQL backend pid ${holder.pid} (${name}${from}${state}${since})`;
}

/**
 * Takes the migration lock on the runner's session, waiting at most `timeoutMs` for another session to let it
 * go; then throws MigrationLockTimeoutError naming that session. A replica must not wait forever behind a stuck
 * holder with nothing in its log to say why it never listens.
 */
export async function acquireMigrationLock(runner: QueryRunner, timeoutMs: number): Promise<void> {
  const [{ locked }] = (await runner.query(
    `SELECT pg_try_advisory_lock(${MIGRATION_LOCK_KEY}) AS locked`,
  )) as { locked: boolean }[];
  if (locked) return;
  const seconds = Math.round(timeoutMs / 1000);
  const logger = new Logger('Migrations');
  logger.warn(
    `waiting up to ${seconds} s for the migration lock, held by ${(await lockHolder(runner)) ?? 'another session'}`,
  );
  // lock_timeout bounds advisory-lock waits too; set on this session only, and reset before migrations run.
  await runner.query(`SELECT set_config('lock_timeout', $1, false)`, [`${timeoutMs}ms`]);
  try {
    await runner.query(MIGRATION_LOCK_WAIT);
  } catch (error) {
    if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
    const holder = (await lockHolder(runner)) ?? 'a session that has let it go since';
    throw new MigrationLockTimeoutError(
      `the migration lock (PostgreSQL advisory lock 'vcp.migrations') was still held after ${seconds} s ` +
        `(DB_MIGRATION_LOCK_TIMEOUT_SECS) by ${holder}: another replica or migration job is migrating, ` +
        `or that session is stuck`,
    );
  } finally {
    await runner.query(`RESET lock_timeout`);
  }
}

export async function releaseMigrationLock(runner: QueryRunner): Promise<void> {
  await runner.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
}
