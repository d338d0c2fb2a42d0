import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';

/**
 * The shape every periodic sweeper shares: started once the app is up, one sweep at a time per replica (a slow
 * sweep is never overlapped by the next tick), a failed sweep logged and retried at the next tick, and shutdown
 * waiting for the sweep in flight. The sweep itself must be idempotent across replicas (no leader).
 */
export abstract class IntervalSweep implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private early: NodeJS.Timeout | undefined;
  private earlyAt = Infinity;
  private stopped = false;
  private running: Promise<unknown> | undefined;
  private arming: Promise<unknown> | undefined;

  protected readonly logger: Logger;

  protected constructor(name: string) {
    this.logger = new Logger(name);
  }

  /** Time between ticks, read at bootstrap. */
  protected abstract get intervalMs(): number;

  abstract sweep(): Promise<unknown>;

  /**
   * When the next sweep is due sooner than the interval (ms from now), or null: asked at start and after every
   * sweep, so a sweeper can be on time for a known deadline (a lease running out) without a short interval.
   */
  protected nextDueInMs(): Promise<number | null> {
    return Promise.resolve(null);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
    // Deadlines from before this process (leases granted before a restart or a restore) are kept from the
    // start, not only once the first tick has swept.
    this.arming = this.armEarly().catch((error: unknown) =>
      this.logger.error(`could not read when the first sweep is due: ${String(error)}`),
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.early);
    this.timer = undefined;
    await this.arming; // its query must not outlive the database connection
    await this.running;
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.sweep()
      .then(() => this.armEarly())
      .catch((error: unknown) => this.logger.error(`sweep failed: ${String(error)}`))
      .finally(() => (this.running = undefined));
  }

  /**
   * Sweeps by `dueInMs` from now if that is sooner than the next tick (and sooner than an early sweep already
   * planned): for a deadline the sweeper learns of between sweeps, such as a lease just granted.
   */
  protected sweepWithin(dueInMs: number): void {
    const at = Date.now() + Math.max(0, dueInMs);
    if (this.stopped || this.timer === undefined || dueInMs >= this.intervalMs || at >= this.earlyAt) return;
    clearTimeout(this.early);
    this.earlyAt = at;
    this.early = setTimeout(
      () => {
        this.earlyAt = Infinity;
        this.tick();
      },
      Math.max(0, dueInMs),
    );
    this.early.unref();
  }

  private async armEarly(): Promise<void> {
    const dueMs = await this.nextDueInMs();
    if (dueMs !== null) this.sweepWithin(dueMs);
  }
}
