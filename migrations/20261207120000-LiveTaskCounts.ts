import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A user's pending and running tasks, for the live-task limit of submissions (TASK_MAX_LIVE_PER_USER): counted
 * from this partial index, which holds only open tasks, not by walking the user's whole history.
 */
export class LiveTaskCounts20261207120000 implements MigrationInterface {
  name = 'LiveTaskCounts20261207120000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX idx_tasks_creator_open ON tasks (creator_id)
         WHERE status IN ('pending', 'running') AND deleted_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_tasks_creator_open`);
  }
}
