import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The runs of a quorum task that ended for their node's fault, by task and owner: the claim looks up, per
 * queued quorum task, whether the claiming node's owner has two of them (then it may not take the task), and a
 * failed or lost run whether its owner has one already (then it gives its attempt back). Partial: only those
 * runs, the few a task's owners' faults leave.
 */
export class QuorumOwnerFaults20261205120000 implements MigrationInterface {
  name = 'QuorumOwnerFaults20261205120000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX idx_task_runs_quorum_owner_fault ON task_runs (task_id, node_owner_id)
         WHERE quorum_run AND status IN ('failed', 'expired')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_task_runs_quorum_owner_fault`);
  }
}
