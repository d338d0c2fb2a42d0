import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/auth/principal';
import { LruCache } from '../common/cache/lru-cache';
import { Clock } from '../common/clock/clock';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor';
import { UUID_PATTERN } from '../common/validation/uuid';
import { DatabaseSession } from '../database/transaction-runner';
import { VcpMetrics } from '../metrics/vcp-metrics';
import type { HeartbeatDto, HeartbeatHistoryQueryDto } from './dto/node-requests.dto';
import type { HeartbeatPageDto, HeartbeatResponseDto, LeaseReportDto } from './dto/node-responses.dto';
import { reputationScore } from './reputation';
import { HeartbeatResult, HeartbeatsRepository, HeartbeatWrite } from './heartbeats.repository';
import { NodesConfig } from './nodes.config';
import { NodesRepository } from './nodes.repository';
import { NodesService } from './nodes.service';
import { ControlPlaneClock } from '../outages/control-plane-clock';

/** A node's reputation (the score's reliability part) is read from here for a few seconds. */
const RELIABILITY_TTL_MS = 5000;
const MAX_RELIABILITIES = 10_000;
/** Most nodes written by one statement. */
const MAX_BATCH = 500;
const DEFAULT_PAGE = 50;

/** What the scheduling module adds to heartbeats (nodes does not know runs). */
export interface HeartbeatScheduling {
  /** Renews the leases a heartbeat names. */
  renew(nodeId: string, runs: { runId: string; fence: string }[]): Promise<LeaseReportDto>;
  /** NODE_MAX_CONCURRENT_RUNS: announced so that an agent with more slots uses only as many. */
  maxConcurrentRuns: number;
}

interface Waiter {
  resolve(result: HeartbeatResult | null): void;
  reject(error: unknown): void;
}

/**
 * Heartbeats, written by group commit: heartbeats that arrive while a write is in flight wait for the next
 * one, which records all of them in one statement (several from one node merge into one row: latest telemetry
 * wins). Under load that turns N writes into one without delaying anyone at low load, and every caller still
 * answers only after its heartbeat is committed.
 */
@Injectable()
export class HeartbeatService {
  private pending = new Map<string, { write: HeartbeatWrite; waiters: Waiter[] }>();
  private draining = false;
  private readonly reliabilities = new LruCache<string, { reliability: number | null; until: number }>({
    maxEntries: MAX_RELIABILITIES,
  });
  private scheduling: HeartbeatScheduling | undefined;

  constructor(
    private readonly heartbeats: HeartbeatsRepository,
    private readonly nodesRepository: NodesRepository,
    private readonly nodes: NodesService,
    private readonly config: NodesConfig,
    private readonly metrics: VcpMetrics,
    private readonly clock: Clock,
    private readonly outages: ControlPlaneClock,
    private readonly db: DatabaseSession,
  ) {}

  useScheduling(scheduling: HeartbeatScheduling): void {
    this.scheduling = scheduling;
  }

  /** The node's key (checked by the guard) or its owner/an admin (checked here). */
  async heartbeat(principal: Principal, nodeId: string, dto: HeartbeatDto): Promise<HeartbeatResponseDto> {
    await this.outages.settled();
    if (principal.nodeId === undefined) await this.nodes.visible(principal, nodeId);
    const reliability = await this.reliabilityOf(nodeId);
    // The score is computed by the write, from the node's latest value of each part (see HeartbeatsRepository).
    const write: HeartbeatWrite = {
      nodeId,
      cpuUsage: dto.cpu_usage ?? null,
      memoryUsage: dto.memory_usage ?? null,
      diskUsage: dto.disk_usage ?? null,
      networkLatencyMs: dto.network_latency_ms ?? null,
      activeTasks: dto.active_tasks ?? null,
      agentVersion: dto.agent_version ?? null,
      reliability,
      count: 1,
    };
    // Inside a caller's transaction the write must be part of it, not of a batch that outlives it.
    const result = this.db.inTransaction
      ? ((await this.heartbeats.record([write], this.config.historyIntervalSecs))[0] ?? null)
      : await this.enqueue(write);
    if (!result) throw await this.refusal(nodeId);
    this.metrics.nodeHeartbeat();
    // After the heartbeat is committed: a node that is rejected or gone renews nothing.
    const leases =
      dto.runs && this.scheduling
        ? await this.scheduling.renew(
            nodeId,
            dto.runs.map((run) => ({ runId: run.run_id.toLowerCase(), fence: run.fence })),
          )
        : undefined;
    return {
      message: 'Heartbeat received',
      node_id: nodeId,
      timestamp: this.clock.now().toISOString(),
      health_score: result.healthScore,
      node_status: result.status,
      active_tasks: dto.active_tasks ?? 0,
      heartbeat_interval_secs: this.config.heartbeatIntervalSecs,
      ...(this.scheduling ? { max_concurrent_runs: this.scheduling.maxConcurrentRuns } : {}),
      ...(leases ? { leases } : {}),
    };
  }

  async history(
    principal: Principal,
    nodeId: string,
    query: HeartbeatHistoryQueryDto,
  ): Promise<HeartbeatPageDto> {
    await this.nodes.visible(principal, nodeId);
    const limit = query.limit ?? DEFAULT_PAGE;
    const rows = await this.heartbeats.list(
      nodeId,
      query.since ? new Date(query.since) : null,
      decodeCursor(query.cursor, UUID_PATTERN),
      limit + 1,
    );
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map((row) => ({
        bucket_start: row.bucketStart.toISOString(),
        recorded_at: row.recordedAt.toISOString(),
        heartbeats: row.heartbeats,
        health_score: row.healthScore,
        cpu_usage: row.cpuUsage,
        memory_usage: row.memoryUsage,
        disk_usage: row.diskUsage,
        network_latency_ms: row.networkLatencyMs,
        active_tasks: row.activeTasks,
        agent_version: row.agentVersion,
        status: row.status,
      })),
      next_cursor:
        rows.length > limit && last
          ? encodeCursor({ t: last.bucketStart.toISOString(), id: last.heartbeatId })
          : null,
    };
  }

  /** Also the 404 of a missing node before anything is queued. */
  private async reliabilityOf(nodeId: string): Promise<number | null> {
    const now = this.clock.nowMs();
    const cached = this.reliabilities.get(nodeId);
    if (cached && cached.until > now) return cached.reliability;
    const runs = await this.nodesRepository.comparedRuns(nodeId);
    if (!runs) throw AppException.notFound('Node not found');
    const reliability = reputationScore(runs.runsValid, runs.runsInvalid);
    this.reliabilities.set(nodeId, { reliability, until: now + RELIABILITY_TTL_MS });
    return reliability;
  }

  /** Why a heartbeat changed nothing: the node was rejected or deleted meanwhile. */
  private async refusal(nodeId: string): Promise<AppException> {
    const node = await this.nodesRepository.findLive(nodeId, null);
    return node?.status === 'rejected'
      ? new AppException(ErrorCode.Conflict, 'The node is rejected')
      : AppException.notFound('Node not found');
  }

  private enqueue(write: HeartbeatWrite): Promise<HeartbeatResult | null> {
    return new Promise((resolve, reject) => {
      const entry = this.pending.get(write.nodeId);
      if (entry) {
        entry.write = merge(entry.write, write);
        entry.waiters.push({ resolve, reject });
      } else {
        this.pending.set(write.nodeId, { write, waiters: [{ resolve, reject }] });
      }
      if (!this.draining) {
        this.draining = true;
        // The first heartbeat of a quiet period is written at once (next turn of the event loop).
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = [...this.pending.entries()].slice(0, MAX_BATCH);
      for (const [nodeId] of batch) this.pending.delete(nodeId);
      try {
        const results = await this.heartbeats.record(
          batch.map(([, entry]) => entry.write),
          this.config.historyIntervalSecs,
        );
        const byNode = new Map(results.map((result) => [result.nodeId, result]));
        for (const [nodeId, entry] of batch) {
          const result = byNode.get(nodeId) ?? null;
          if (result?.previousStatus === 'offline' && result.status === 'online')
            this.metrics.nodeBackOnline();
          for (const waiter of entry.waiters) waiter.resolve(result);
        }
      } catch (error) {
        for (const [, entry] of batch) for (const waiter of entry.waiters) waiter.reject(error);
      }
    }
    this.draining = false;
  }
}

/**
 * Two heartbeats of one node in one batch: the later one's telemetry, the earlier one's where it sent none —
 * what the node row holds after writing them one by one, so the score the write computes is the same.
 */
function merge(earlier: HeartbeatWrite, later: HeartbeatWrite): HeartbeatWrite {
  return {
    nodeId: later.nodeId,
    cpuUsage: later.cpuUsage ?? earlier.cpuUsage,
    memoryUsage: later.memoryUsage ?? earlier.memoryUsage,
    diskUsage: later.diskUsage ?? earlier.diskUsage,
    networkLatencyMs: later.networkLatencyMs ?? earlier.networkLatencyMs,
    activeTasks: later.activeTasks ?? earlier.activeTasks,
    agentVersion: later.agentVersion ?? earlier.agentVersion,
    reliability: later.reliability,
    count: earlier.count + later.count,
  };
}
