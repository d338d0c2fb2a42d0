import { MigrationInterface, QueryRunner } from 'typeorm';

/** Must match pageTime() in src/common/pagination/cursor.ts, or the planner cannot use this index. */
const pageTime = (column: string) => `date_trunc('milliseconds', ${column} AT TIME ZONE 'UTC')`;

/**
 * A node's key list (GET /nodes/:node_id/keys) shows revoked and expired keys too, which the live-key index
 * (idx_api_keys_node_live) leaves out: without this one every page would scan the whole api_keys table.
 */
export class NodeKeyPages20261203120000 implements MigrationInterface {
  name = 'NodeKeyPages20261203120000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX idx_api_keys_node_page ON api_keys (node_id, (${pageTime('created_at')}) DESC, key_id DESC)
         WHERE node_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_api_keys_node_page`);
  }
}
