import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The node registry of issue 15: the original's capability ranges (its demo sent values the first schema
 * refused), the `rejected` status, a node's public key, labels and agent version, API keys bound to one node
 * (node credentials), heartbeat history bucketed so a chatty node cannot grow it, and the partial indexes the
 * liveness sweep and the purge scan.
 */
export class NodeRegistry20261201170000 implements MigrationInterface {
  name = 'NodeRegistry20261201170000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes ADD COLUMN public_key text`);
    await q.query(`ALTER TABLE nodes ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'::jsonb`);
    await q.query(`ALTER TABLE nodes ADD COLUMN agent_version varchar(32)`);
    await q.query(`ALTER TABLE nodes ALTER COLUMN health_score SET DEFAULT 50`);
    for (const name of ['bandwidth', 'cpu_cores', 'memory', 'status']) {
      await q.query(`ALTER TABLE nodes DROP CONSTRAINT nodes_${name}_check`);
    }
    await q.query(
      `ALTER TABLE nodes ADD CONSTRAINT nodes_bandwidth_check CHECK (bandwidth_mbps BETWEEN 0 AND 100000)`,
    );
    await q.query(
      `ALTER TABLE nodes ADD CONSTRAINT nodes_cpu_cores_check CHECK (cpu_cores BETWEEN 1 AND 1024)`,
    );
    await q.query(
      `ALTER TABLE nodes ADD CONSTRAINT nodes_memory_check CHECK (memory_gb BETWEEN 0.1 AND 10000)`,
    );
    await q.query(
      `ALTER TABLE nodes ADD CONSTRAINT nodes_status_check
         CHECK (status IN ('online', 'offline', 'busy', 'draining', 'suspended', 'rejected'))`,
    );
    // The liveness sweep: online nodes by last heartbeat. The purge: offline ones by the same column.
    await q.query(
      `CREATE INDEX idx_nodes_online_heartbeat ON nodes (last_heartbeat)
         WHERE status IN ('online', 'busy', 'draining') AND deleted_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX idx_nodes_offline_heartbeat ON nodes (last_heartbeat)
         WHERE status = 'offline' AND deleted_at IS NULL`,
    );
    // An owner's node list, newest first (keyset pagination on registered_at, node_id).
    await q.query(
      `CREATE INDEX idx_nodes_owner_registered ON nodes (owner_id, registered_at DESC, node_id)
         WHERE deleted_at IS NULL`,
    );

    // A key bound to a node is that node's credential: it authenticates as the node's agent and nothing else.
    await q.query(
      `ALTER TABLE api_keys ADD COLUMN node_id varchar(64) REFERENCES nodes (node_id) ON DELETE CASCADE`,
    );
    await q.query(`CREATE INDEX idx_api_keys_node_live ON api_keys (node_id) WHERE revoked_at IS NULL`);
    await q.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_revoked_reason_check`);
    await q.query(
      `ALTER TABLE api_keys ADD CONSTRAINT api_keys_revoked_reason_check CHECK (revoked_reason IS NULL OR
         revoked_reason IN ('revoked', 'rotated', 'owner_deleted', 'node_deleted', 'node_rejected'))`,
    );

    // One history row per node per bucket (NODE_HISTORY_INTERVAL_SECS): heartbeats inside a bucket update it,
    // and the unique index makes that an upsert that concurrent heartbeats cannot double.
    await q.query(`ALTER TABLE node_heartbeat_history ADD COLUMN bucket_start timestamptz`);
    await q.query(`UPDATE node_heartbeat_history SET bucket_start = recorded_at`);
    await q.query(`ALTER TABLE node_heartbeat_history ALTER COLUMN bucket_start SET NOT NULL`);
    await q.query(`ALTER TABLE node_heartbeat_history ADD COLUMN agent_version varchar(32)`);
    await q.query(`ALTER TABLE node_heartbeat_history ADD COLUMN heartbeats integer NOT NULL DEFAULT 1`);
    await q.query(
      `CREATE UNIQUE INDEX node_heartbeat_history_bucket_key ON node_heartbeat_history (node_id, bucket_start)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX node_heartbeat_history_bucket_key`);
    await q.query(`ALTER TABLE node_heartbeat_history DROP COLUMN heartbeats`);
    await q.query(`ALTER TABLE node_heartbeat_history DROP COLUMN agent_version`);
    await q.query(`ALTER TABLE node_heartbeat_history DROP COLUMN bucket_start`);

    await q.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_revoked_reason_check`);
    await q.query(`DELETE FROM api_keys WHERE node_id IS NOT NULL`);
    await q.query(
      `ALTER TABLE api_keys ADD CONSTRAINT api_keys_revoked_reason_check
         CHECK (revoked_reason IS NULL OR revoked_reason IN ('revoked', 'rotated', 'owner_deleted'))`,
    );
    await q.query(`DROP INDEX idx_api_keys_node_live`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN node_id`);

    await q.query(`DROP INDEX idx_nodes_owner_registered`);
    await q.query(`DROP INDEX idx_nodes_offline_heartbeat`);
    await q.query(`DROP INDEX idx_nodes_online_heartbeat`);
    await q.query(`UPDATE nodes SET status = 'suspended' WHERE status = 'rejected'`);
    for (const name of ['bandwidth', 'cpu_cores', 'memory', 'status']) {
      await q.query(`ALTER TABLE nodes DROP CONSTRAINT nodes_${name}_check`);
    }
    await q.query(
      `ALTER TABLE nodes ADD CONSTRAINT nodes_bandwidth_check CHECK (bandwidth_mbps BETWEEN 10 AND 100000)`,
    );
    await q.query(
      `ALTER TABLE nodes ADD CONSTRAINT nodes_cpu_cores_check CHECK (cpu_cores BETWEEN 1 AND 256)`,
    );
    await q.query(`ALTER TABLE nodes ADD CONSTRAINT nodes_memory_check CHECK (memory_gb BETWEEN 1 AND 2048)`);
    await q.query(
      `ALTER TABLE nodes ADD CONSTRAINT nodes_status_check
         CHECK (status IN ('online', 'offline', 'busy', 'draining', 'suspended'))`,
    );
    await q.query(`ALTER TABLE nodes ALTER COLUMN health_score SET DEFAULT 100.0`);
    await q.query(`ALTER TABLE nodes DROP COLUMN agent_version`);
    await q.query(`ALTER TABLE nodes DROP COLUMN labels`);
    await q.query(`ALTER TABLE nodes DROP COLUMN public_key`);
  }
}
