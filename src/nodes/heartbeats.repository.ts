import { Injectable } from '@nestjs/common';
import type { KeysetCursor } from '../common/pagination/cursor';
import { DatabaseSession } from '../database/transaction-runner';
import type { NodeStatus } from './dto/node-requests.dto';

/** One node's heartbeat as written: several heartbeats of a node in one batch are merged into one. */
export interface HeartbeatWrite {
  nodeId: string;
  cpuUsage: number | null;
  memoryUsage: number | null;
  diskUsage: number | null;
  networkLatencyMs: number | null;
  activeTasks: number | null;
  agentVersion: string | null;
  /** null: this heartbeat carried no telemetry, the stored score stays. */
  healthScore: number | null;
  /** How many heartbeats were merged into this write. */
  count: number;
}

export interface HeartbeatResult {
  nodeId: string;
  status: NodeStatus;
  healthScore: number;
  previousStatus: NodeStatus;
}

export interface HeartbeatRecord {
  heartbeatId: string;
  bucketStart: Date;
  recordedAt: Date;
  heartbeats: number;
  healthScore: number;
  cpuUsage: number | null;
  memoryUsage: number | null;
  diskUsage: number | null;
  networkLatencyMs: number | null;
  activeTasks: number;
  agentVersion: string | null;
  status: NodeStatus;
}

/** Heartbeats (the nodes' liveness columns) and their bounded history, in plain SQL. */
@Injectable()
export class HeartbeatsRepository {
  constructor(private readonly db: DatabaseSession) {}

  /**
   * Records a batch of heartbeats in one statement: each node is marked seen (offline → online) and its
   * history row for the current bucket of `bucketSecs` is inserted or updated (the unique (node_id,
   * bucket_start) index turns concurrent writers into updates of one row). Rejected and deleted nodes are not
   * touched and are missing from the result.
   */
  async record(beats: readonly HeartbeatWrite[], bucketSecs: number): Promise<HeartbeatResult[]> {
    const column = <K extends keyof HeartbeatWrite>(key: K) => beats.map((beat) => beat[key]);
    // One SQL text for any batch size (arrays, not a VALUES list), so it is prepared once per connection.
    const rows = await this.db.queryPrepared<{
      node_id: string;
      status: NodeStatus;
      health_score: number;
      previous_status: NodeStatus;
    }>(
      'vcp_record_heartbeats',
      `WITH v AS (
         SELECT * FROM unnest($1::varchar[], $2::float8[], $3::float8[], $4::float8[], $5::float8[], $6::int[],
                              $7::varchar[], $8::float8[], $9::int[])
           AS v(node_id, cpu, mem, disk, latency, active, agent_version, score, beats)
       ), previous AS (
         SELECT n.node_id, n.status FROM nodes n JOIN v ON v.node_id = n.node_id
       ), seen AS (
         UPDATE nodes n SET last_heartbeat = now(), last_seen = now(), updated_at = now(),
                status = CASE WHEN n.status = 'offline' THEN 'online' ELSE n.status END,
                health_score = COALESCE(v.score, n.health_score),
                agent_version = COALESCE(v.agent_version, n.agent_version)
           FROM v
          WHERE n.node_id = v.node_id AND n.deleted_at IS NULL AND n.status <> 'rejected'
          RETURNING n.node_id, n.status, n.health_score
       ), history AS (
         INSERT INTO node_heartbeat_history AS h (node_id, bucket_start, recorded_at, health_score, cpu_usage,
                memory_usage, disk_usage, network_latency_ms, active_tasks, status, agent_version, heartbeats)
         SELECT seen.node_id, to_timestamp(floor(extract(epoch FROM now()) / $10) * $10), now(),
                seen.health_score, v.cpu, v.mem, v.disk, round(v.latency)::int, COALESCE(v.active, 0),
                seen.status, v.agent_version, v.beats
           FROM seen JOIN v ON v.node_id = seen.node_id
         ON CONFLICT (node_id, bucket_start) DO UPDATE SET
           recorded_at = EXCLUDED.recorded_at, health_score = EXCLUDED.health_score,
           cpu_usage = COALESCE(EXCLUDED.cpu_usage, h.cpu_usage),
           memory_usage = COALESCE(EXCLUDED.memory_usage, h.memory_usage),
           disk_usage = COALESCE(EXCLUDED.disk_usage, h.disk_usage),
           network_latency_ms = COALESCE(EXCLUDED.network_latency_ms, h.network_latency_ms),
           active_tasks = EXCLUDED.active_tasks, status = EXCLUDED.status,
           agent_version = COALESCE(EXCLUDED.agent_version, h.agent_version),
           heartbeats = h.heartbeats + EXCLUDED.heartbeats
       )
       SELECT seen.node_id, seen.status, seen.health_score, previous.status AS previous_status
         FROM seen JOIN previous ON previous.node_id = seen.node_id`,
      [
        column('nodeId'),
        column('cpuUsage'),
        column('memoryUsage'),
        column('diskUsage'),
        column('networkLatencyMs'),
        column('activeTasks'),
        column('agentVersion'),
        column('healthScore'),
        column('count'),
        bucketSecs,
      ],
    );
    return rows.map((row) => ({
      nodeId: row.node_id,
      status: row.status,
      healthScore: row.health_score,
      previousStatus: row.previous_status,
    }));
  }

  /** A node's history, newest first, keyset-paged on (bucket_start, heartbeat_id). */
  async list(
    nodeId: string,
    since: Date | null,
    after: KeysetCursor | null,
    fetch: number,
  ): Promise<HeartbeatRecord[]> {
    const rows = await this.db.query<{
      heartbeat_id: string;
      bucket_start: Date;
      recorded_at: Date;
      heartbeats: number;
      health_score: number;
      cpu_usage: number | null;
      memory_usage: number | null;
      disk_usage: number | null;
      network_latency_ms: number | null;
      active_tasks: number;
      agent_version: string | null;
      status: NodeStatus;
    }>(
      `SELECT heartbeat_id, bucket_start, recorded_at, heartbeats, health_score::float8 AS health_score,
              cpu_usage::float8 AS cpu_usage, memory_usage::float8 AS memory_usage,
              disk_usage::float8 AS disk_usage, network_latency_ms, active_tasks, agent_version, status
         FROM node_heartbeat_history
        WHERE node_id = $1
          AND ($2::timestamptz IS NULL OR recorded_at >= $2::timestamptz)
          AND ($3::timestamptz IS NULL OR (bucket_start, heartbeat_id) < ($3::timestamptz, $4::uuid))
        ORDER BY bucket_start DESC, heartbeat_id DESC
        LIMIT $5`,
      [nodeId, since, after?.t ?? null, after?.id ?? null, fetch],
    );
    return rows.map((row) => ({
      heartbeatId: row.heartbeat_id,
      bucketStart: row.bucket_start,
      recordedAt: row.recorded_at,
      heartbeats: row.heartbeats,
      healthScore: row.health_score,
      cpuUsage: row.cpu_usage,
      memoryUsage: row.memory_usage,
      diskUsage: row.disk_usage,
      networkLatencyMs: row.network_latency_ms,
      activeTasks: row.active_tasks,
      agentVersion: row.agent_version,
      status: row.status,
    }));
  }

  /** Deletes up to `batch` rows older than the retention; the sweep calls it until fewer come back. */
  async pruneOlderThan(days: number, batch: number): Promise<number> {
    const { affected } = await this.db.execute(
      // Chosen once, deleted by primary key (see TasksRepository.expireQueued for why not `IN (SELECT …)`).
      `DELETE FROM node_heartbeat_history WHERE heartbeat_id = ANY (ARRAY(
         SELECT heartbeat_id FROM node_heartbeat_history
          WHERE recorded_at < now() - make_interval(days => $1) LIMIT $2))`,
      [days, batch],
    );
    return affected;
  }
}
