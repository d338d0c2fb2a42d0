import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each leased run holds one of its node's lease slots (1..NODE_MAX_CONCURRENT_RUNS), unique per node among
 * leased runs. Two concurrent claims of one node that counted the same free slots in their snapshots collide on
 * this index and one of them fails and claims again: so a claim no longer needs a transaction and an advisory
 * lock around it to keep a node within its limit on PostgreSQL (four round trips become one). Runs leased
 * before this migration get slots in fence order.
 */
export class LeaseSlots20261202150000 implements MigrationInterface {
  name = 'LeaseSlots20261202150000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_runs ADD COLUMN lease_slot smallint`);
    await q.query(
      `UPDATE task_runs r SET lease_slot = s.slot
         FROM (SELECT run_id, row_number() OVER (PARTITION BY node_id ORDER BY fence) AS slot
                 FROM task_runs WHERE status = 'leased') s
        WHERE r.run_id = s.run_id`,
    );
    await q.query(
      `CREATE UNIQUE INDEX task_runs_node_lease_slot_key ON task_runs (node_id, lease_slot) WHERE status = 'leased'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX task_runs_node_lease_slot_key`);
    await q.query(`ALTER TABLE task_runs DROP COLUMN lease_slot`);
  }
}
