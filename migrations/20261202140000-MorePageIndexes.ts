import { MigrationInterface, QueryRunner } from 'typeorm';

/** Must match pageTime() in src/common/pagination/cursor.ts, or the planner cannot use these indexes. */
const pageTime = (column: string) => `date_trunc('milliseconds', ${column} AT TIME ZONE 'UTC')`;

/** The other pages' millisecond sort keys indexed, as PageIndexes did for tasks and the audit log. */
export class MorePageIndexes20261202140000 implements MigrationInterface {
  name = 'MorePageIndexes20261202140000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS idx_nodes_owner_registered`);
    await q.query(
      `CREATE INDEX idx_nodes_owner_page ON nodes (owner_id, (${pageTime('registered_at')}) DESC, node_id DESC)
        WHERE deleted_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX idx_nodes_page ON nodes ((${pageTime('registered_at')}) DESC, node_id DESC) WHERE deleted_at IS NULL`,
    );
    await q.query(`DROP INDEX IF EXISTS idx_users_created_at`);
    await q.query(`CREATE INDEX idx_users_page ON users ((${pageTime('created_at')}), user_id)`);
    await q.query(`DROP INDEX IF EXISTS idx_circuits_created_at`);
    await q.query(`CREATE INDEX idx_circuits_page ON circuits ((${pageTime('created_at')}), circuit_id)`);
    await q.query(`DROP INDEX IF EXISTS idx_module_owners_user_created`);
    await q.query(
      `CREATE INDEX idx_module_owners_user_page ON module_owners (user_id, (${pageTime('created_at')}) DESC, module_id DESC)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const index of [
      'idx_nodes_owner_page',
      'idx_nodes_page',
      'idx_users_page',
      'idx_circuits_page',
      'idx_module_owners_user_page',
    ]) {
      await q.query(`DROP INDEX IF EXISTS ${index}`);
    }
    await q.query(
      `CREATE INDEX idx_nodes_owner_registered ON nodes (owner_id, registered_at DESC, node_id) WHERE deleted_at IS NULL`,
    );
    await q.query(`CREATE INDEX idx_users_created_at ON users (created_at, user_id)`);
    await q.query(`CREATE INDEX idx_circuits_created_at ON circuits (created_at)`);
    await q.query(
      `CREATE INDEX idx_module_owners_user_created ON module_owners (user_id, created_at DESC, module_id)`,
    );
  }
}
