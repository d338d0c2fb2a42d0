import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { RunLeaseSettings } from '../common/runs/run-lease';
import { DatabaseSession } from '../database/transaction-runner';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { ControlPlaneClockRepository, CreditsSoFar } from './control-plane-clock.repository';
import { OutagesConfig } from './outages.config';

/**
 * The control plane's heartbeat, so that its own outages are not charged to nodes and runs. Every replica
 * ticks the shared clock row every quarter of OUTAGE_CREDIT_AFTER_SECS; the first tick after a longer gap (every
 * replica paused or down, or the database unreachable) extends the live leases by the gap and starts a grace
 * for node liveness (NodesRepository.markSilentOffline). Whatever judges a lease or a heartbeat by the clock
 * (sweeps, heartbeats, claims, results, releases) awaits `settled()` first: after a pause of this replica, the
 * gap is credited before anything is judged by it, whichever of the waiting requests and timers runs first.
 */
@Injectable()
export class ControlPlaneClock implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ControlPlaneClock');
  private timer: NodeJS.Timeout | undefined;
  /** When this replica last moved the clock, by the monotonic clock and by the wall clock (see `settled`). */
  private lastTickAt = { monotonic: -Infinity, wall: -Infinity };
  private ticking: Promise<void> | undefined;
  /** Whether the last tick failed: a database that is down fails every tick, and that is logged once. */
  private failing = false;
  /** The row's record of credits as this replica's last answered tick read it (undefined before the first). */
  private creditsSeen: CreditsSoFar | undefined;

  constructor(
    private readonly clock: ControlPlaneClockRepository,
    private readonly config: OutagesConfig,
    private readonly db: DatabaseSession,
    private readonly metrics: VcpMetrics,
    private readonly lease: RunLeaseSettings,
  ) {}

  /** The setting in seconds (0: off), for the sweeps' statements (see `uncreditedOutageSql`). */
  get creditAfterSecs(): number {
    return this.config.creditAfterSecs;
  }

  private get intervalMs(): number {
    return Math.max(250, this.config.creditAfterMs / 4);
  }

  /** The first tick before the app serves anything or sweeps: a restart after a long outage credits it first. */
  async onModuleInit(): Promise<void> {
    if (this.config.creditAfterMs === 0) return;
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking; // its statement must not outlive the database connection
  }

  /**
   * Resolves at once while this replica's last tick is recent (the common case: no query); otherwise after a
   * tick, so a gap this replica has not credited yet is credited before the caller judges a deadline.
   */
  settled(): Promise<void> | undefined {
    // Never from inside a transaction: on the embedded database (one session) the tick would wait for it to end.
    if (this.timer === undefined || this.db.inTransaction) return undefined;
    // Both clocks: the monotonic one runs on through a SIGSTOP but not through a suspended machine (a laptop
    // running the embedded default), the wall clock through both. Either one late costs one tick, never a credit:
    // the database's clock decides that.
    const staleAfter = this.config.creditAfterMs / 2;
    const fresh =
      performance.now() - this.lastTickAt.monotonic < staleAfter &&
      Date.now() - this.lastTickAt.wall < staleAfter;
    return fresh ? undefined : this.tick();
  }

  /** One tick at a time per replica; a failed one is logged, and the next timer tick or caller tries again. */
  private tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    // Fresh from when the tick was sent, not answered: the gap it measured ends there, and a tick that waited
    // (a frozen database, a held row) must not make this replica look fresh for that long afterwards.
    const sentAt = { monotonic: performance.now(), wall: Date.now() };
    this.ticking = this.clock
      .tick(this.creditAfterSecs, this.lease.leaseSecs)
      .then(({ credited, soFar }) => {
        this.lastTickAt = sentAt;
        if (this.failing) this.logger.log('the control plane clock moves again');
        this.failing = false;
        this.metrics.controlPlaneClockMoved(soFar);
        const seen = this.creditsSeen;
        this.creditsSeen = soFar;
        // Every replica logs an outage once: from its own tick's credit, or from the row's count, since the tick
        // that credited it may have timed out on its client while the frozen database still ran it.
        if (credited) this.reportOutage(credited.awaySecs, credited.leasesExtended);
        else if (seen && soFar.outages > seen.outages)
          this.reportOutage(soFar.lastOutageSecs ?? 0, soFar.leasesExtended - seen.leasesExtended);
      })
      .catch((error: unknown) => {
        if (!this.failing) this.logger.warn(`could not move the control plane clock: ${String(error)}`);
        this.failing = true;
      })
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private reportOutage(awaySecs: number, leasesExtended: number): void {
    this.logger.warn({
      msg: 'the control plane was away: live leases extended by the gap, nodes given time to heartbeat',
      away_secs: Math.round(awaySecs * 10) / 10,
      leases_extended: leasesExtended,
    });
  }
}
