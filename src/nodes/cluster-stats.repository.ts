import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';

export interface NodeTypeStats {
  nodeType: string;
  nodes: number;
  online: number;
  healthy: number;
  scoreSum: number;
  cores: number;
}

export interface TaskCounts {
  total: number;
  pending: number;
  running: number;
  completed: number;
  failed: number;
}

/** The two aggregate reads behind GET /cluster/stats. */
@Injectable()
export class ClusterStatsRepository {
  constructor(private readonly db: DatabaseSession) {}

  /**
   * Live (not deleted), non-rejected nodes by type; healthy = online, not quarantined, with a score of at least
   * `healthy`.
   */
  async nodeStats(healthy: number): Promise<NodeTypeStats[]> {
    const rows = await this.db.query<{
      node_type: string;
      nodes: number;
      online: number;
      healthy: number;
      score_sum: number;
      cores: number;
    }>(
      `SELECT node_type, count(*)::int AS nodes,
              count(*) FILTER (WHERE status = 'online')::int AS online,
              -- A quarantined node is online but gets no work: never counted healthy.
              count(*) FILTER (WHERE status = 'online' AND health_score >= $1 AND quarantined_at IS NULL)::int
                AS healthy,
              COALESCE(sum(health_score), 0)::float8 AS score_sum,
              COALESCE(sum(cpu_cores), 0)::int AS cores
         FROM nodes WHERE deleted_at IS NULL AND status <> 'rejected'
        GROUP BY node_type`,
      [healthy],
    );
    return rows.map((row) => ({
      nodeType: row.node_type,
      nodes: row.nodes,
      online: row.online,
      healthy: row.healthy,
      scoreSum: row.score_sum,
      cores: row.cores,
    }));
  }

  async taskCounts(): Promise<TaskCounts> {
    const [row] = await this.db.query<TaskCounts>(
      `SELECT count(*)::int AS total,
              count(*) FILTER (WHERE status = 'pending')::int AS pending,
              count(*) FILTER (WHERE status IN ('assigned', 'running', 'verifying'))::int AS running,
              count(*) FILTER (WHERE status = 'completed')::int AS completed,
              count(*) FILTER (WHERE status = 'failed')::int AS failed
         FROM tasks`,
    );
    return row;
  }
}
