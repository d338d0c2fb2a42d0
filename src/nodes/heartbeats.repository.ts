import { Injectable } from '@nestjs/common';
import type { KeysetCursor } from '../common/pagination/cursor';
import { DatabaseSession } from '../database/transaction-runner';
import type { NodeStatus } from './dto/node-requests.dto';
import {
  FULL_BANDWIDTH_MBPS,
  HEALTH_WEIGHTS,
  NEUTRAL,
  NEUTRAL_SCORE,
  WORST_LATENCY_MS,
} from './health-score';

/** One node's heartbeat as written: several heartbeats of a node in one batch are merged into one. */
export interface HeartbeatWrite {
  nodeId: string;
  cpuUsage: number | null;
  memoryUsage: number | null;
  diskUsage: number | null;
  networkLatencyMs: number | null;
  activeTasks: number | null;
  agentVersion: string | null;
  /** The node's reputation (health score's reliability part); null: no run of it compared yet. */
  reliability: number | null;
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

interface ScoreSqlInputs {
  bandwidthMbps: string;
  cpuUsage: string;
  memoryUsage: string;
  networkLatencyMs: string;
  reliability: string;
}

const float = (value: number) => `${value}::float8`;
const clamp01 = (sql: string) => `LEAST(${float(1)}, GREATEST(${float(0)}, ${sql}))`;
const orNeutral = (input: string, part: string) =>
  `CASE WHEN ${input} IS NULL THEN ${float(NEUTRAL)} ELSE ${part} END`;

/**
 * healthScore() (health-score.ts) as an SQL expression: the same float8 operations in the same order, and
 * floor(x + 0.5) for Math.round (PostgreSQL's round(float8) breaks ties to even), so both give the same number
 * (test/integration/nodes/health-score-sql.spec.ts). Each input is a float8 expression, NULL when not known.
 */
export function healthScoreSql(p: ScoreSqlInputs): string {
  const bandwidth = clamp01(`${p.bandwidthMbps} / ${float(FULL_BANDWIDTH_MBPS)}`);
  const latency = orNeutral(
    p.networkLatencyMs,
    `${float(1)} - ${clamp01(`${p.networkLatencyMs} / ${float(WORST_LATENCY_MS)}`)}`,
  );
  const spare = `CASE
      WHEN ${p.cpuUsage} IS NOT NULL AND ${p.memoryUsage} IS NOT NULL
        THEN ${float(1)} - ${clamp01(`(${p.cpuUsage} + ${p.memoryUsage}) / ${float(200)}`)}
      WHEN ${p.cpuUsage} IS NOT NULL THEN ${float(1)} - ${clamp01(`${p.cpuUsage} / ${float(100)}`)}
      WHEN ${p.memoryUsage} IS NOT NULL THEN ${float(1)} - ${clamp01(`${p.memoryUsage} / ${float(100)}`)}
      ELSE ${float(NEUTRAL)} END`;
  // LEAST and GREATEST skip NULLs, so every part checks for NULL itself.
  const reliability = orNeutral(p.reliability, clamp01(p.reliability));
  const score = `${float(HEALTH_WEIGHTS.bandwidth)} * (${bandwidth})
      + ${float(HEALTH_WEIGHTS.latency)} * (${latency})
      + ${float(HEALTH_WEIGHTS.spareCompute)} * (${spare})
      + ${float(HEALTH_WEIGHTS.reliability)} * (${reliability})`;
  return `CASE WHEN ${p.cpuUsage} IS NULL AND ${p.memoryUsage} IS NULL AND ${p.networkLatencyMs} IS NULL
      THEN ${float(NEUTRAL_SCORE)}
      ELSE floor((${score}) * ${float(10_000)} + ${float(0.5)}) / ${float(100)} END`;
}

/** A heartbeat's telemetry as the node row keeps it (the history's precision), else the node's last value. */
const CPU = `COALESCE(v.cpu::numeric(5, 2), n.cpu_usage)`;
const MEMORY = `COALESCE(v.mem::numeric(5, 2), n.memory_usage)`;
const LATENCY = `COALESCE(round(v.latency)::int, n.network_latency_ms)`;
const SCORE = healthScoreSql({
  bandwidthMbps: 'n.bandwidth_mbps',
  cpuUsage: `${CPU}::float8`,
  memoryUsage: `${MEMORY}::float8`,
  networkLatencyMs: `${LATENCY}::float8`,
  reliability: 'v.reliability',
});

/** Heartbeats (the nodes' liveness columns) and their bounded history, in plain SQL. */
@Injectable()
export class HeartbeatsRepository {
  constructor(private readonly db: DatabaseSession) {}

  /**
   * Records a batch of heartbeats in one statement: each node is marked seen (offline → online) and its
   * history row for the current bucket of `bucketSecs` is inserted or updated (the unique (node_id,
   * bucket_start) index turns concurrent writers into updates of one row). Rejected and deleted nodes are not
   * touched and are missing from the result.
   *
   * The node row keeps the latest value of each scored telemetry part; a heartbeat replaces the parts it sends
   * and its score is computed here from the row's values, so concurrent writers (the row lock orders them) and
   * merged heartbeats cannot store a score that disagrees with the telemetry. A heartbeat that sends none of
   * these parts keeps the score. The history row shows the values the score was computed from.
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
           AS v(node_id, cpu, mem, disk, latency, active, agent_version, reliability, beats)
       ), seen AS (
         UPDATE nodes n SET last_heartbeat = now(), last_seen = now(), updated_at = now(),
                status = CASE WHEN n.status = 'offline' THEN 'online' ELSE n.status END,
                cpu_usage = ${CPU}, memory_usage = ${MEMORY}, network_latency_ms = ${LATENCY},
                health_score = CASE WHEN v.cpu IS NULL AND v.mem IS NULL AND v.latency IS NULL
                                    THEN n.health_score ELSE ${SCORE} END,
                agent_version = COALESCE(v.agent_version, n.agent_version)
           -- The status before this update, read locked: a plain read is the statement's snapshot, so a heartbeat
           -- that waited for another replica's heartbeat of an offline node saw it offline too, and both
           -- counted its return (vcp_node_online_transitions_total). Locked, it is the row this update changes.
           FROM v JOIN (SELECT node_id, status FROM nodes WHERE node_id = ANY ($1::varchar[])
                         ORDER BY node_id FOR UPDATE) previous ON previous.node_id = v.node_id
          WHERE n.node_id = v.node_id AND n.deleted_at IS NULL AND n.status <> 'rejected'
          RETURNING n.node_id, n.status, n.health_score, n.cpu_usage, n.memory_usage, n.network_latency_ms,
                    previous.status AS previous_status
       ), history AS (
         INSERT INTO node_heartbeat_history AS h (node_id, bucket_start, recorded_at, health_score, cpu_usage,
                memory_usage, disk_usage, network_latency_ms, active_tasks, status, agent_version, heartbeats)
         SELECT seen.node_id, to_timestamp(floor(extract(epoch FROM now()) / $10) * $10), now(),
                seen.health_score, seen.cpu_usage, seen.memory_usage, v.disk, seen.network_latency_ms,
                COALESCE(v.active, 0), seen.status, v.agent_version, v.beats
           FROM seen JOIN v ON v.node_id = seen.node_id
         ON CONFLICT (node_id, bucket_start) DO UPDATE SET
           recorded_at = EXCLUDED.recorded_at, health_score = EXCLUDED.health_score,
           cpu_usage = EXCLUDED.cpu_usage, memory_usage = EXCLUDED.memory_usage,
           disk_usage = COALESCE(EXCLUDED.disk_usage, h.disk_usage),
           network_latency_ms = EXCLUDED.network_latency_ms,
           active_tasks = EXCLUDED.active_tasks, status = EXCLUDED.status,
           agent_version = COALESCE(EXCLUDED.agent_version, h.agent_version),
           heartbeats = h.heartbeats + EXCLUDED.heartbeats
       )
       SELECT seen.node_id, seen.status, seen.health_score, seen.previous_status FROM seen`,
      [
        column('nodeId'),
        column('cpuUsage'),
        column('memoryUsage'),
        column('diskUsage'),
        column('networkLatencyMs'),
        column('activeTasks'),
        column('agentVersion'),
        column('reliability'),
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
      // Chosen once, deleted by primary key (see TasksRepository.lockQueuedPastTimeout for why not `IN (SELECT …)`).
      `DELETE FROM node_heartbeat_history WHERE heartbeat_id = ANY (ARRAY(
         SELECT heartbeat_id FROM node_heartbeat_history
          WHERE recorded_at < now() - make_interval(days => $1) LIMIT $2))`,
      [days, batch],
    );
    return affected;
  }
}
