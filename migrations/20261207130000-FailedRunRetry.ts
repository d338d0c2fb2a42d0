import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Distinct nodes per task, continued (LostLeaseRetry): a run that failed no longer keeps its node from taking
 * the task again either (the claim lets it, a lease after the run ended, when no other node has). Otherwise a
 * task that failed once on every capable node (the single embedded node of `npm start`) waited out its queue
 * timeout, 24 h by default, instead of spending its attempts.
 */
export class FailedRunRetry20261207130000 implements MigrationInterface {
  name = 'FailedRunRetry20261207130000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX task_runs_task_node_key`);
    await q.query(
      `CREATE UNIQUE INDEX task_runs_task_node_key ON task_runs (task_id, node_id)
         WHERE status NOT IN ('expired', 'failed')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // Fails (duplicate key) once a node has retried a task it failed: going back would mean deleting runs.
    await q.query(`DROP INDEX task_runs_task_node_key`);
    await q.query(
      `CREATE UNIQUE INDEX task_runs_task_node_key ON task_runs (task_id, node_id) WHERE status <> 'expired'`,
    );
  }
}
