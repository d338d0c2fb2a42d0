import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fair order between users: nodes take open tasks by priority, then by `fair_at` (set at submission from the
 * creator's row in task_queue_places: one step per run after the creator's latest place, no earlier than the
 * submission), no longer by age alone, so one user's flood does not queue everyone else behind it. Tasks from
 * before keep their age as their place.
 */
export class FairShareOrder20261207140000 implements MigrationInterface {
  name = 'FairShareOrder20261207140000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks ADD COLUMN fair_at timestamptz NOT NULL DEFAULT now()`);
    await q.query(`UPDATE tasks SET fair_at = created_at`);
    await q.query(`DROP INDEX idx_tasks_claimable`);
    await q.query(
      `CREATE INDEX idx_tasks_claimable ON tasks (priority DESC, fair_at, task_id)
         WHERE status IN ('pending', 'running') AND active_runs < run_target`,
    );
    // One row per user who submitted: the latest place handed out, taken and moved under its row lock, so
    // concurrent submissions of one user (on any replica) get places one after the other, never the same one.
    await q.query(
      `CREATE TABLE task_queue_places (
         creator_id uuid PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
         last_place timestamptz NOT NULL)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE task_queue_places`);
    await q.query(`DROP INDEX idx_tasks_claimable`);
    await q.query(
      `CREATE INDEX idx_tasks_claimable ON tasks (priority DESC, created_at, task_id)
         WHERE status IN ('pending', 'running') AND active_runs < run_target`,
    );
    await q.query(`ALTER TABLE tasks DROP COLUMN fair_at`);
  }
}
