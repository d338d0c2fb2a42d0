import { MigrationInterface, QueryRunner } from 'typeorm';

/** Nodes belong to the user who registered them; soft delete keeps the history of runs on a removed node. */
export class NodeOwnership20240102000000 implements MigrationInterface {
  name = 'NodeOwnership20240102000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes ADD COLUMN owner_id uuid`);
    // RESTRICT, not CASCADE: deleting an account must not silently erase nodes that ran other users' tasks;
    // the account deletion path soft-deletes the nodes first.
    await q.query(
      `ALTER TABLE nodes ADD CONSTRAINT fk_nodes_owner
         FOREIGN KEY (owner_id) REFERENCES users (user_id) ON DELETE RESTRICT`,
    );
    await q.query(`CREATE INDEX idx_nodes_owner ON nodes (owner_id)`);
    await q.query(`ALTER TABLE nodes ADD COLUMN last_heartbeat timestamptz DEFAULT now()`);
    await q.query(`CREATE INDEX idx_nodes_heartbeat ON nodes (last_heartbeat)`);
    await q.query(`ALTER TABLE nodes ADD COLUMN deleted_at timestamptz`);
    // Scheduling looks for live nodes by status; soft-deleted rows never qualify.
    await q.query(
      `CREATE INDEX idx_nodes_active_status ON nodes (status, node_type) WHERE deleted_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_nodes_active_status`);
    await q.query(`ALTER TABLE nodes DROP COLUMN deleted_at`);
    await q.query(`DROP INDEX idx_nodes_heartbeat`);
    await q.query(`ALTER TABLE nodes DROP COLUMN last_heartbeat`);
    await q.query(`DROP INDEX idx_nodes_owner`);
    await q.query(`ALTER TABLE nodes DROP CONSTRAINT fk_nodes_owner`);
    await q.query(`ALTER TABLE nodes DROP COLUMN owner_id`);
  }
}
