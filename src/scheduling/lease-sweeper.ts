import { Injectable } from '@nestjs/common';
import { IntervalSweep } from '../common/concurrency/interval-sweep';
import { TransactionRunner } from '../database/transaction-runner';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { TaskEventSignal } from '../tasks/task-event-signal';
import { TaskQueueRepository } from '../tasks/task-queue.repository';
import { TasksRepository } from '../tasks/tasks.repository';
import { RunRelease } from './run-release';
import { EndedLeasesRepository } from './ended-leases.repository';
import { SchedulingConfig } from './scheduling.config';
import { ControlPlaneClock } from '../outages/control-plane-clock';

const BATCH = 200;
const MAX_ROUNDS = 20;

/** The most node ids a `leases expired` line names. */
const LOGGED_NODES = 10;

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
export class LeaseSweeper extends IntervalSweep {
  constructor(
    private readonly leases: EndedLeasesRepository,
    private readonly tasks: TasksRepository,
    private readonly queue: TaskQueueRepository,
    private readonly release: RunRelease,
    private readonly tx: TransactionRunner,
    private readonly config: SchedulingConfig,
    private readonly events: TaskEventSignal,
    private readonly metrics: VcpMetrics,
    private readonly outages: ControlPlaneClock,
  ) {
    super('LeaseSweeper');
  }

  protected get intervalMs(): number {
    return this.config.sweepIntervalMs;
  }

  /** On time for the earliest lease still held: a dead node's runs go back to the queue when it runs out. */
  protected override nextDueInMs(): Promise<number | null> {
    return this.leases.msUntilFirstLeaseExpiry(this.outages.creditAfterSecs);
  }

  /** A lease this replica just granted: if its node dies, the run is let again when the lease runs out. */
  leaseGranted(expiresAt: Date): void {
    this.sweepWithin(expiresAt.getTime() - Date.now() + 10);
  }

  async sweep(): Promise<LeaseSweepReport> {
    await this.outages.settled();
    const report: LeaseSweepReport = { expired: 0, requeued: 0, exhausted: 0, queueTimeouts: 0 };
    const nodes = new Set<string>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const effect = await this.tx.run(async () =>
        this.release.giveBack(
          await this.leases.expireLeases(BATCH, this.outages.creditAfterSecs),
          'lease_expired',
        ),
      );
      this.release.afterCommit(effect);
      report.expired += effect.leases;
      report.requeued += effect.requeued;
      report.exhausted += effect.exhausted.length;
      for (const nodeId of effect.nodeIds) nodes.add(nodeId);
      if (effect.leases < BATCH) break;
    }
    for (let round = 0; round < MAX_ROUNDS; round++) {
      // One transaction: expireQueued locks its batch, then re-checks it in a statement of its own.
      const failed = await this.tx.run(() => this.tasks.expireQueued(BATCH));
      report.queueTimeouts += failed.length;
      for (const task of failed) this.metrics.taskFinished(task.taskType, 'failed');
      this.events.publish(...failed.map((task) => task.taskId));
      if (failed.length < BATCH) break;
    }
    const pending = await this.queue.pendingStats();
    this.metrics.setQueueDepth(pending.count, pending.oldestAgeSecs);
    // Which nodes lost them (a few, for the operator to look at; the audit log has each run), not only how many.
    if (report.expired > 0)
      this.logger.warn({ msg: 'leases expired', ...report, nodes: [...nodes].slice(0, LOGGED_NODES) });
    return report;
  }
}
