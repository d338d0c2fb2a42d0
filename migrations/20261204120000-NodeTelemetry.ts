import { MigrationInterface, QueryRunner } from 'typeorm';

const PARTS = ['cpu_usage', 'memory_usage', 'network_latency_ms'] as const;

/**
 * The node's latest value of each telemetry part the health score reads, so a heartbeat that reports some parts
 * is scored with the others' last values (before, only its own parts counted and the rest as never reported).
 * Same types as node_heartbeat_history's, so a history row holds exactly the values its score came from.
 * Existing nodes start from their latest history row that has each part.
 */
export class NodeTelemetry20261204120000 implements MigrationInterface {
  name = 'NodeTelemetry20261204120000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes ADD COLUMN cpu_usage numeric(5, 2), ADD COLUMN memory_usage numeric(5, 2),
      ADD COLUMN network_latency_ms integer`);
    await q.query(`ALTER TABLE nodes ADD CONSTRAINT nodes_telemetry_check CHECK (
      (cpu_usage IS NULL OR cpu_usage BETWEEN 0 AND 100) AND (memory_usage IS NULL OR memory_usage BETWEEN 0 AND 100)
      AND (network_latency_ms IS NULL OR network_latency_ms >= 0))`);
    const latest = (part: string) =>
      `${part} = (SELECT h.${part} FROM node_heartbeat_history h WHERE h.node_id = n.node_id AND h.${part} IS NOT NULL
                   ORDER BY h.bucket_start DESC LIMIT 1)`;
    await q.query(`UPDATE nodes n SET ${PARTS.map(latest).join(', ')} WHERE n.deleted_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE nodes DROP CONSTRAINT nodes_telemetry_check`);
    await q.query(`ALTER TABLE nodes ${PARTS.map((part) => `DROP COLUMN ${part}`).join(', ')}`);
  }
}
