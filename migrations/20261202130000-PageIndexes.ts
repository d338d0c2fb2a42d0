import { MigrationInterface, QueryRunner } from 'typeorm';

/** Must match pageTime() in src/common/pagination/cursor.ts, or the planner cannot use these indexes. */
const PAGE_TIME = `date_trunc('milliseconds', created_at AT TIME ZONE 'UTC')`;

/**
 * Task and audit pages are sorted on their time at millisecond precision (the precision a cursor carries
 * through JavaScript), which no index covered: every page sorted all of a user's tasks, or the whole audit log.
 * These indexes hold that exact sort key (UTC, so it is immutable and indexable) and replace the ones on the
 * raw time that the pages used before.
 */
export class PageIndexes20261202130000 implements MigrationInterface {
  name = 'PageIndexes20261202130000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS idx_tasks_creator_live`);
    await q.query(
      `CREATE INDEX idx_tasks_creator_page ON tasks (creator_id, (${PAGE_TIME}) DESC, task_id DESC)
        WHERE deleted_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX idx_tasks_page ON tasks ((${PAGE_TIME}) DESC, task_id DESC) WHERE deleted_at IS NULL`,
    );
    await q.query(`DROP INDEX IF EXISTS idx_audit_log_created_at`);
    await q.query(`DROP INDEX IF EXISTS idx_audit_log_user_id`);
    await q.query(`DROP INDEX IF EXISTS idx_audit_log_action`);
    await q.query(`CREATE INDEX idx_audit_log_page ON audit_log ((${PAGE_TIME}) DESC, log_id DESC)`);
    await q.query(
      `CREATE INDEX idx_audit_log_user_page ON audit_log (user_id, (${PAGE_TIME}) DESC, log_id DESC)`,
    );
    await q.query(
      `CREATE INDEX idx_audit_log_action_page ON audit_log (action, (${PAGE_TIME}) DESC, log_id DESC)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const index of [
      'idx_tasks_creator_page',
      'idx_tasks_page',
      'idx_audit_log_page',
      'idx_audit_log_user_page',
      'idx_audit_log_action_page',
    ]) {
      await q.query(`DROP INDEX IF EXISTS ${index}`);
    }
    await q.query(
      `CREATE INDEX idx_tasks_creator_live ON tasks (creator_id, created_at DESC, task_id) WHERE deleted_at IS NULL`,
    );
    await q.query(`CREATE INDEX idx_audit_log_created_at ON audit_log (created_at DESC, log_id DESC)`);
    await q.query(`CREATE INDEX idx_audit_log_user_id ON audit_log (user_id, created_at DESC)`);
    await q.query(`CREATE INDEX idx_audit_log_action ON audit_log (action, created_at DESC)`);
  }
}
