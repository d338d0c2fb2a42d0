import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';

/**
 * The shape every periodic sweeper shares: started once the app is up, one sweep at a time per replica (a slow
 * sweep is never overlapped by the next tick), a failed sweep logged and retried at the next tick, and shutdown
 * waiting for the sweep in flight. The sweep itself must be idempotent across replicas (no leader).
 */
export abstract class IntervalSweep implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private early: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<unknown> | undefined;

  protected readonly logger: Logger;

  protected constructor(name: string) {
    this.logger = new Logger(name);
  }

  /** Time between ticks, read at bootstrap. */
  protected abstract get intervalMs(): number;

  abstract sweep(): Promise<unknown>;

  /**
   * When the next sweep is due sooner than the interval (ms from now), or null: asked after every sweep, so
   * a sweeper can be on time for a known deadline (a lease running out) without a short interval.
   */
  protected nextDueInMs(): Promise<number | null> {
    return Promise.resolve(null);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.early);
    this.timer = undefined;
    await this.running;
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.sweep()
      .then(() => this.armEarly())
      .catch((error: unknown) => this.logger.error(`sweep failed: ${String(error)}`))
      .finally(() => (this.running = undefined));
  }

  private async armEarly(): Promise<void> {
    const dueMs = await this.nextDueInMs();
    clearTimeout(this.early);
    if (this.stopped || dueMs === null || dueMs >= this.intervalMs) return;
    this.early = setTimeout(() => this.tick(), Math.max(0, dueMs));
    this.early.unref();
  }
}
