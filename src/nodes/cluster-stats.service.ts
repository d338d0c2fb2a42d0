import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock/clock';
import type { ClusterStatsDto } from './dto/node-responses.dto';
import { NODE_TYPES } from './dto/register-node.dto';
import { HEALTHY_SCORE } from './health-score';
import { ClusterStatsRepository } from './cluster-stats.repository';

/** Stats are at most this old: a dashboard polling every replica costs two queries per replica per period. */
export const CLUSTER_STATS_CACHE_MS = 2000;

@Injectable()
export class ClusterStatsService {
  private cached: { stats: Promise<ClusterStatsDto>; until: number } | undefined;

  constructor(
    private readonly repository: ClusterStatsRepository,
    private readonly clock: Clock,
  ) {}

  stats(): Promise<ClusterStatsDto> {
    const now = this.clock.nowMs();
    if (!this.cached || this.cached.until <= now) {
      // Concurrent callers share one computation; a failed one is not cached.
      const stats = this.compute();
      this.cached = { stats, until: now + CLUSTER_STATS_CACHE_MS };
      stats.catch(() => (this.cached = undefined));
    }
    return this.cached.stats;
  }

  private async compute(): Promise<ClusterStatsDto> {
    const byType = await this.repository.nodeStats(HEALTHY_SCORE);
    const tasks = await this.repository.taskCounts();
    const sum = (pick: (row: (typeof byType)[number]) => number) =>
      byType.reduce((total, row) => total + pick(row), 0);
    const total = sum((row) => row.nodes);
    return {
      total_nodes: total,
      healthy_nodes: sum((row) => row.healthy),
      total_tasks: tasks.total,
      completed_tasks: tasks.completed,
      failed_tasks: tasks.failed,
      avg_health_score: total === 0 ? 0 : Math.round((sum((row) => row.scoreSum) / total) * 100) / 100,
      total_compute_capacity: sum((row) => row.cores),
      online_nodes: sum((row) => row.online),
      pending_tasks: tasks.pending,
      running_tasks: tasks.running,
      by_node_type: Object.fromEntries(
        NODE_TYPES.map((type) => [type, byType.find((row) => row.nodeType === type)?.nodes ?? 0]),
      ),
    };
  }
}
