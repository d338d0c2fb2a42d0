import { MigrationInterface, QueryRunner } from 'typeorm';

/** A time series of node heartbeats, for health scoring and the operator dashboard. */
export class NodeHeartbeatHistory20240108000000 implements MigrationInterface {
  name = 'NodeHeartbeatHistory20240108000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE node_heartbeat_history (
        heartbeat_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        node_id varchar(64) NOT NULL REFERENCES nodes (node_id) ON DELETE CASCADE,
        health_score numeric(5, 2) NOT NULL,
        cpu_usage numeric(5, 2),
        memory_usage numeric(5, 2),
        disk_usage numeric(5, 2),
        network_latency_ms integer,
        active_tasks integer NOT NULL DEFAULT 0,
        status varchar(32) NOT NULL,
        metadata jsonb,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT node_heartbeat_health_score_check CHECK (health_score BETWEEN 0 AND 100),
        CONSTRAINT node_heartbeat_usage_check CHECK (
          (cpu_usage IS NULL OR cpu_usage BETWEEN 0 AND 100)
          AND (memory_usage IS NULL OR memory_usage BETWEEN 0 AND 100)
          AND (disk_usage IS NULL OR disk_usage BETWEEN 0 AND 100)),
        CONSTRAINT node_heartbeat_counts_check CHECK (
          active_tasks >= 0 AND (network_latency_ms IS NULL OR network_latency_ms >= 0))
      )`);
    // "Latest heartbeats of node X" is the only query; one composite index serves it and retention pruning.
    await q.query(
      `CREATE INDEX idx_node_heartbeat_node_recorded ON node_heartbeat_history (node_id, recorded_at DESC)`,
    );
    await q.query(`CREATE INDEX idx_node_heartbeat_recorded_at ON node_heartbeat_history (recorded_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE node_heartbeat_history`);
  }
}
