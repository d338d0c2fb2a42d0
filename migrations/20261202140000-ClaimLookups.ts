import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The claim's "has this node run this task already?" check, once per queued task, reads one index entry
 * instead of all of the node's runs. With an index on `node_id` alone the planner (its estimates taken while the
 * node had no runs, and kept by the prepared claim) scanned every run the node ever had for every queued task:
 * a claim cost grew with queue length × the node's history (77 ms with 3 000 queued and 112 runs, growing).
 * An index on (node_id, task_id) serves both that probe and every lookup by node that the old one served.
 */
export class ClaimLookups20261202140000 implements MigrationInterface {
  name = 'ClaimLookups20261202140000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX idx_task_runs_node_task ON task_runs (node_id, task_id)`);
    await q.query(`DROP INDEX idx_task_runs_node_id`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX idx_task_runs_node_id ON task_runs (node_id)`);
    await q.query(`DROP INDEX idx_task_runs_node_task`);
  }
}
