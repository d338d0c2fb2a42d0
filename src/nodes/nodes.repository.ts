import { Injectable } from '@nestjs/common';
import { cursorTime, KeysetCursor, pageTime } from '../common/pagination/cursor';
import { DatabaseSession } from '../database/transaction-runner';
import type { NodeStatus } from './dto/node-requests.dto';
import type { NodeRecordOfRuns } from './reputation';
import type { NodeType } from './dto/register-node.dto';
import { uncreditedOutageSql } from '../outages/control-plane-clock.repository';
import { SYSTEM_ACCOUNT_PASSWORD_HASH } from '../users/users.repository';

export interface NodeRecord {
  nodeId: string;
  ownerId: string | null;
  region: string;
  nodeType: NodeType;
  bandwidthMbps: number;
  cpuCores: number;
  memoryGb: number;
  gpuAvailable: boolean;
  healthScore: number;
  status: NodeStatus;
  registeredAt: Date;
  lastSeen: Date;
  lastHeartbeat: Date | null;
  publicKey: string | null;
  labels: Record<string, string>;
  record: NodeRecordOfRuns;
}

export interface NewNode {
  nodeId: string;
  ownerId: string;
  region: string;
  nodeType: NodeType;
  bandwidthMbps: number;
  cpuCores: number;
  memoryGb: number;
  gpuAvailable: boolean;
  healthScore: number;
  publicKey: string | null;
  labels: Record<string, string>;
}

export interface NodeFilter {
  /** null: every owner's nodes (admins). */
  ownerId: string | null;
  status?: NodeStatus;
  nodeType?: NodeType;
  region?: string;
}

interface NodeRow {
  node_id: string;
  owner_id: string | null;
  region: string;
  node_type: NodeType;
  bandwidth_mbps: number;
  cpu_cores: number;
  memory_gb: number;
  gpu_available: boolean;
  health_score: number;
  status: NodeStatus;
  registered_at: Date;
  last_seen: Date;
  last_heartbeat: Date | null;
  public_key: string | null;
  labels: Record<string, string>;
  runs_valid: number;
  runs_invalid: number;
  runs_error: number;
  runs_lost: number;
  valid_streak: number;
  quarantined_at: Date | null;
  quarantine_reason: string | null;
}

const COLUMNS = `node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb, gpu_available,
  health_score, status, registered_at, last_seen, last_heartbeat, public_key, labels, runs_valid, runs_invalid,
  runs_error, runs_lost, valid_streak, quarantined_at, quarantine_reason`;

function toRecord(row: NodeRow): NodeRecord {
  return {
    nodeId: row.node_id,
    ownerId: row.owner_id,
    region: row.region,
    nodeType: row.node_type,
    bandwidthMbps: row.bandwidth_mbps,
    cpuCores: row.cpu_cores,
    memoryGb: row.memory_gb,
    gpuAvailable: row.gpu_available,
    healthScore: row.health_score,
    status: row.status,
    registeredAt: row.registered_at,
    lastSeen: row.last_seen,
    lastHeartbeat: row.last_heartbeat,
    publicKey: row.public_key,
    labels: row.labels,
    record: {
      runsValid: row.runs_valid,
      runsInvalid: row.runs_invalid,
      runsError: row.runs_error,
      runsLost: row.runs_lost,
      validStreak: row.valid_streak,
      quarantinedAt: row.quarantined_at,
      quarantineReason: row.quarantine_reason,
    },
  };
}

/** Statuses a silent node leaves for `offline` (the sweep) — matches idx_nodes_online_heartbeat. */
const ALIVE_STATUSES = `('online', 'busy', 'draining')`;

/** The nodes table. Soft-deleted rows are invisible to every method but `register` (which may revive one). */
@Injectable()
export class NodesRepository {
  constructor(private readonly db: DatabaseSession) {}

  /**
   * Inserts the node, or revives the owner's own soft-deleted node of that id, in one statement (so two
   * registrations racing for an id cannot both win). null: the id belongs to a live node or to someone else.
   */
  async register(node: NewNode): Promise<NodeRecord | null> {
    const [row] = await this.db.query<NodeRow>(
      `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb,
                          gpu_available, health_score, status, public_key, labels, last_heartbeat)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'online', $10, $11::jsonb, now())
       ON CONFLICT (node_id) DO UPDATE SET
         region = EXCLUDED.region, node_type = EXCLUDED.node_type, bandwidth_mbps = EXCLUDED.bandwidth_mbps,
         cpu_cores = EXCLUDED.cpu_cores, memory_gb = EXCLUDED.memory_gb, gpu_available = EXCLUDED.gpu_available,
         health_score = EXCLUDED.health_score, status = 'online', public_key = EXCLUDED.public_key,
         labels = EXCLUDED.labels, agent_version = NULL, cpu_usage = NULL, memory_usage = NULL,
         network_latency_ms = NULL, registered_at = now(), last_seen = now(),
         last_heartbeat = now(), updated_at = now(), deleted_at = NULL
       WHERE nodes.deleted_at IS NOT NULL AND nodes.owner_id = EXCLUDED.owner_id
       RETURNING ${COLUMNS}`,
      [
        node.nodeId,
        node.ownerId,
        node.region,
        node.nodeType,
        node.bandwidthMbps,
        node.cpuCores,
        node.memoryGb,
        node.gpuAvailable,
        node.healthScore,
        node.publicKey,
        JSON.stringify(node.labels),
      ],
    );
    return row ? toRecord(row) : null;
  }

  /** The nodes `ownerId` owns that are not deleted, counted up to `atMost`. */
  async countOwned(ownerId: string, atMost: number): Promise<number> {
    const [row] = await this.db.query<{ owned: number }>(
      `SELECT count(*)::int AS owned FROM (
         SELECT 1 FROM nodes WHERE owner_id = $1 AND deleted_at IS NULL LIMIT $2) counted`,
      [ownerId, atMost],
    );
    return row.owned;
  }

  /** A live node; with `ownerId`, only if that user owns it (so another user's node reads as missing). */
  async findLive(nodeId: string, ownerId: string | null, forUpdate = false): Promise<NodeRecord | null> {
    const [row] = await this.db.queryPrepared<NodeRow>(
      forUpdate ? 'vcp_node_live_for_update' : 'vcp_node_live',
      `SELECT ${COLUMNS} FROM nodes
        WHERE node_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR owner_id = $2::uuid)
        ${forUpdate ? 'FOR UPDATE' : ''}`,
      [nodeId, ownerId],
    );
    return row ? toRecord(row) : null;
  }

  /** Newest first, keyset-paged on (registered_at, node_id), compared at millisecond precision (the cursor's). */
  async list(filter: NodeFilter, after: KeysetCursor | null, fetch: number): Promise<NodeRecord[]> {
    const rows = await this.db.query<NodeRow>(
      `SELECT ${COLUMNS} FROM nodes
        WHERE deleted_at IS NULL
          AND ($1::uuid IS NULL OR owner_id = $1::uuid)
          AND ($2::varchar IS NULL OR status = $2)
          AND ($3::varchar IS NULL OR node_type = $3)
          AND ($4::varchar IS NULL OR region = $4)
          AND ($5::timestamptz IS NULL OR (${pageTime('registered_at')}, node_id) < (${cursorTime('$5')}, $6::varchar))
        ORDER BY ${pageTime('registered_at')} DESC, node_id DESC
        LIMIT $7`,
      [
        filter.ownerId,
        filter.status ?? null,
        filter.nodeType ?? null,
        filter.region ?? null,
        after?.t ?? null,
        after?.id ?? null,
        fetch,
      ],
    );
    return rows.map(toRecord);
  }

  async softDelete(nodeId: string): Promise<boolean> {
    const { affected } = await this.db.execute(
      `UPDATE nodes SET deleted_at = now(), updated_at = now() WHERE node_id = $1 AND deleted_at IS NULL`,
      [nodeId],
    );
    return affected > 0;
  }

  /** Moves a live node between `rejected` and any other status; false when it was not in a `from` status. */
  async reject(nodeId: string): Promise<boolean> {
    const { affected } = await this.db.execute(
      `UPDATE nodes SET status = 'rejected', updated_at = now()
        WHERE node_id = $1 AND deleted_at IS NULL AND status <> 'rejected'`,
      [nodeId],
    );
    return affected > 0;
  }

  /**
   * A rejected node becomes offline until its agent (with a new key) heartbeats again; a quarantined node's
   * quarantine is lifted (its counts stay: a second quarantine needs new invalid runs on top of them).
   */
  async reinstate(nodeId: string): Promise<boolean> {
    const { affected } = await this.db.execute(
      `UPDATE nodes SET status = CASE WHEN status = 'rejected' THEN 'offline' ELSE status END,
              quarantined_at = NULL, quarantine_reason = NULL, quarantine_lifted_invalid = runs_invalid,
              updated_at = now()
        WHERE node_id = $1 AND deleted_at IS NULL AND (status = 'rejected' OR quarantined_at IS NOT NULL)`,
      [nodeId],
    );
    return affected > 0;
  }

  /** A live node's compared runs (the health score's reliability part); null if it is not live. */
  async comparedRuns(nodeId: string): Promise<{ runsValid: number; runsInvalid: number } | null> {
    const [row] = await this.db.query<{ runs_valid: number; runs_invalid: number }>(
      `SELECT runs_valid, runs_invalid FROM nodes WHERE node_id = $1 AND deleted_at IS NULL`,
      [nodeId],
    );
    return row ? { runsValid: row.runs_valid, runsInvalid: row.runs_invalid } : null;
  }

  /**
   * The liveness sweep: nodes silent for longer than `offlineAfterSecs` become offline. Conditional on the
   * status and the database's clock, so replicas sweeping at once change each node once: under PostgreSQL's
   * row lock the second UPDATE re-reads the row, finds it offline and skips it.
   */
  async markSilentOffline(offlineAfterSecs: number, outageCreditAfterSecs: number): Promise<string[]> {
    const rows = await this.db.query<{ node_id: string }>(
      `UPDATE nodes SET status = 'offline', updated_at = now()
        WHERE status IN ${ALIVE_STATUSES} AND deleted_at IS NULL
          AND last_heartbeat < now() - make_interval(secs => $1)
          -- After an outage of the control plane (ControlPlaneClock), every node gets the whole time again; and
          -- none is judged while an outage may be going on uncredited.
          AND NOT EXISTS (SELECT 1 FROM control_plane_clock c WHERE c.resumed_at > now() - make_interval(secs => $1))
          AND NOT ${uncreditedOutageSql('$2')}
        RETURNING node_id`,
      [offlineAfterSecs, outageCreditAfterSecs],
    );
    return rows.map((row) => row.node_id);
  }

  /**
   * Embedded nodes of an earlier start (labelled so, under a built-in owner) other than `running`, that are alive or
   * still hold a lease: marked offline (if alive) and returned, for their leases to be handed back (EmbeddedNodes).
   */
  async retireEmbedded(running: string[]): Promise<string[]> {
    const rows = await this.db.query<{ node_id: string }>(
      `UPDATE nodes n
          SET status = CASE WHEN n.status IN ${ALIVE_STATUSES} THEN 'offline' ELSE n.status END, updated_at = now()
         FROM users u
        WHERE u.user_id = n.owner_id AND u.password_hash = '${SYSTEM_ACCOUNT_PASSWORD_HASH}'
          AND n.labels ->> 'embedded' = 'true' AND n.deleted_at IS NULL AND NOT (n.node_id = ANY($1::varchar[]))
          AND (n.status IN ${ALIVE_STATUSES}
               OR EXISTS (SELECT 1 FROM task_runs r WHERE r.node_id = n.node_id AND r.status = 'leased'))
        RETURNING n.node_id`,
      [running],
    );
    return rows.map((row) => row.node_id);
  }

  /** Soft-deletes nodes offline for longer than `days`; returns them (they are audited, never silent). */
  async purgeLongOffline(days: number, limit: number): Promise<{ nodeId: string; ownerId: string | null }[]> {
    const rows = await this.db.query<{ node_id: string; owner_id: string | null }>(
      // Chosen once, updated by primary key (see TasksRepository.lockQueuedPastTimeout for why not `IN (SELECT …)`).
      `UPDATE nodes SET deleted_at = now(), updated_at = now()
        WHERE node_id = ANY (ARRAY(
          SELECT node_id FROM nodes
           WHERE status = 'offline' AND deleted_at IS NULL AND last_heartbeat < now() - make_interval(days => $1)
           ORDER BY last_heartbeat LIMIT $2 FOR UPDATE SKIP LOCKED))
        RETURNING node_id, owner_id`,
      [days, limit],
    );
    return rows.map((row) => ({ nodeId: row.node_id, ownerId: row.owner_id }));
  }

  /** Live nodes by status, for the `vcp_nodes{status}` gauge. */
  async countByStatus(): Promise<Map<NodeStatus, number>> {
    const rows = await this.db.query<{ status: NodeStatus; n: number }>(
      `SELECT status, count(*)::int AS n FROM nodes WHERE deleted_at IS NULL GROUP BY status`,
    );
    return new Map(rows.map((row) => [row.status, row.n]));
  }
}
