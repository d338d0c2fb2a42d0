import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Distinct nodes per task now means distinct among the runs that hold or delivered something: a run whose lease
 * was lost (`expired`) no longer keeps its node from taking the task again. Otherwise a task whose runs were
 * lost on every eligible node (agents restarted after crashes, a small cluster) could never be leased again
 * and stayed open forever (found by `npm run chaos`).
 */
export class LostLeaseRetry20261202120000 implements MigrationInterface {
  name = 'LostLeaseRetry20261202120000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX task_runs_task_node_key`);
    await q.query(
      `CREATE UNIQUE INDEX task_runs_task_node_key ON task_runs (task_id, node_id) WHERE status <> 'expired'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    // Fails (duplicate key) once a node has retried a task: going back would mean deleting recorded runs.
    await q.query(`DROP INDEX task_runs_task_node_key`);
    await q.query(`CREATE UNIQUE INDEX task_runs_task_node_key ON task_runs (task_id, node_id)`);
  }
}
