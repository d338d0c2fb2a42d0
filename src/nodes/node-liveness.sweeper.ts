import { Injectable } from '@nestjs/common';
import { NodeKeysService } from '../api-keys/node-keys.service';
import { AuditService } from '../audit/audit.service';
import { IntervalSweep } from '../common/concurrency/interval-sweep';
import { TransactionRunner } from '../database/transaction-runner';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { HeartbeatsRepository } from './heartbeats.repository';
import { NodeLoss } from './node-loss';
import { NodesConfig } from './nodes.config';
import { NodesRepository } from './nodes.repository';
import { ControlPlaneClock } from '../outages/control-plane-clock';

/** Rows per statement when purging nodes or pruning history, so one sweep never holds long locks. */
const BATCH = 500;
/** Most prune statements per sweep; a larger backlog is worked off over the next sweeps. */
const MAX_PRUNE_ROUNDS = 20;

export interface SweepReport {
  offline: string[];
  purged: string[];
  pruned: number;
}

/**
 * Liveness on every replica, no leader: each step is a conditional statement judged by the database's clock
 * (`status = 'online' AND last_heartbeat < now() − interval`), so replicas sweeping at once change every node
 * once and a second sweep finds nothing to do. Marks silent nodes offline (releasing their leased runs in the
 * same transaction), soft-deletes (and audits) nodes offline for NODE_PURGE_AFTER_DAYS, prunes heartbeat
 * history past its retention, refreshes the node gauge.
 */
@Injectable()
export class NodeLivenessSweeper extends IntervalSweep {
  constructor(
    private readonly nodes: NodesRepository,
    private readonly heartbeats: HeartbeatsRepository,
    private readonly nodeKeys: NodeKeysService,
    private readonly audit: AuditService,
    private readonly tx: TransactionRunner,
    private readonly config: NodesConfig,
    private readonly metrics: VcpMetrics,
    private readonly nodeLoss: NodeLoss,
    private readonly outages: ControlPlaneClock,
  ) {
    super('NodeLiveness');
  }

  protected get intervalMs(): number {
    return this.config.sweepIntervalMs;
  }

  async sweep(): Promise<SweepReport> {
    await this.outages.settled();
    const { offline, released } = await this.tx.run(async () => {
      const offline = await this.nodes.markSilentOffline(
        this.config.offlineAfterSecs,
        this.outages.creditAfterSecs,
      );
      return { offline, released: await this.nodeLoss.release(offline, 'node_offline') };
    });
    released();
    if (offline.length > 0) {
      this.metrics.nodesWentOffline(offline.length);
      this.logger.warn({ msg: 'nodes went offline', nodes: offline.slice(0, 50), count: offline.length });
    }
    const purged = await this.purge();
    let pruned = 0;
    for (let round = 0; round < MAX_PRUNE_ROUNDS; round++) {
      const deleted = await this.heartbeats.pruneOlderThan(this.config.historyRetentionDays, BATCH);
      pruned += deleted;
      if (deleted < BATCH) break;
    }
    this.metrics.setNodeCounts(await this.nodes.countByStatus());
    return { offline, purged, pruned };
  }

  /** Long-dead nodes are soft-deleted with their keys revoked, one audit row each: never silently. */
  private async purge(): Promise<string[]> {
    const { purged, keyIds } = await this.tx.run(async () => {
      const purged = await this.nodes.purgeLongOffline(this.config.purgeAfterDays, BATCH);
      const keyIds: string[] = [];
      for (const node of purged) {
        keyIds.push(...(await this.nodeKeys.revokeAll(node.nodeId, 'node_deleted')));
        await this.audit.record(
          {
            action: 'node.purged',
            status: 'success',
            userId: null,
            resourceType: 'node',
            resourceId: node.nodeId,
            metadata: { owner_id: node.ownerId, offline_days: this.config.purgeAfterDays },
          },
          null,
        );
      }
      return { purged: purged.map((node) => node.nodeId), keyIds };
    });
    this.nodeKeys.forget(keyIds);
    if (purged.length > 0) this.logger.warn({ msg: 'long-offline nodes purged', nodes: purged });
    return purged;
  }
}
