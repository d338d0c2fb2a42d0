import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { TransactionRunner } from '../database/transaction-runner';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { TasksRepository } from '../tasks/tasks.repository';
import { WorkSignal } from '../tasks/work-signal';
import { RunsRepository } from './runs.repository';
import { SchedulingConfig } from './scheduling.config';

const BATCH = 200;
const MAX_ROUNDS = 20;

export interface LeaseSweepReport {
  expired: number;
  requeued: number;
  exhausted: number;
  queueTimeouts: number;
}

/**
 * On every replica, no leader: expires leases past their time (the run is `expired`, its slot goes back to
 * the queue or the task fails as attempts_exhausted) and fails tasks past their queue timeout. Each step is a
 * conditional update judged by the database's clock, so replicas sweeping at once change each row once.
 */
@Injectable()
export class LeaseSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('LeaseSweeper');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly runs: RunsRepository,
    private readonly tasks: TasksRepository,
    private readonly audit: AuditService,
    private readonly tx: TransactionRunner,
    private readonly config: SchedulingConfig,
    private readonly signal: WorkSignal,
    private readonly metrics: VcpMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.tick(), this.config.sweepIntervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.sweep()
      .catch((error: unknown) => this.logger.error(`lease sweep failed: ${String(error)}`))
      .finally(() => (this.running = undefined));
  }

  async sweep(): Promise<LeaseSweepReport> {
    const report: LeaseSweepReport = { expired: 0, requeued: 0, exhausted: 0, queueTimeouts: 0 };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const expired = await this.tx.run(async () => {
        const expired = await this.runs.expireLeases(BATCH);
        for (const run of expired) {
          const released = await this.tasks.releaseSlot(run.taskId, this.config.retryBaseMs);
          if (released === 'requeued') report.requeued++;
          if (released === 'failed') report.exhausted++;
          await this.audit.record(
            {
              action: 'run.lease_lost',
              status: 'failure',
              userId: null,
              resourceType: 'task_run',
              resourceId: run.runId,
              metadata: { task_id: run.taskId, node_id: run.nodeId, task: released },
            },
            null,
          );
        }
        return expired.length;
      });
      report.expired += expired;
      for (let i = 0; i < expired; i++) this.metrics.taskRunFinished('lease_expired');
      if (expired < BATCH) break;
    }
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const failed = await this.tasks.expireQueued(BATCH);
      report.queueTimeouts += failed.length;
      if (failed.length < BATCH) break;
    }
    if (report.requeued > 0) this.signal.notify();
    if (report.expired > 0) this.logger.warn({ msg: 'leases expired', ...report });
    return report;
  }
}
