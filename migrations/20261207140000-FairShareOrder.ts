import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fair order between users: nodes take open tasks by priority, then by `fair_at` (set at submission to one step
 * per run after the creator's latest open task, and no earlier than the submission), no longer by age alone,
 * so one user's flood does not queue everyone else behind it. Tasks from before keep their age as their place.
 * The creator's open-task index gains `created_at`: a submission finds its creator's newest open tasks, which
 * hold the latest place, from it.
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
    await q.query(`DROP INDEX idx_tasks_creator_open`);
    await q.query(
      `CREATE INDEX idx_tasks_creator_open ON tasks (creator_id, created_at)
         WHERE status IN ('pending', 'running') AND deleted_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_tasks_creator_open`);
    await q.query(
      `CREATE INDEX idx_tasks_creator_open ON tasks (creator_id)
         WHERE status IN ('pending', 'running') AND deleted_at IS NULL`,
    );
    await q.query(`DROP INDEX idx_tasks_claimable`);
    await q.query(
      `CREATE INDEX idx_tasks_claimable ON tasks (priority DESC, created_at, task_id)
         WHERE status IN ('pending', 'running') AND active_runs < run_target`,
    );
    await q.query(`ALTER TABLE tasks DROP COLUMN fair_at`);
  }
}
