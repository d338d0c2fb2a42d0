import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';

/**
 * The shape every periodic sweeper shares: started once the app is up, one sweep at a time per replica (a slow
 * sweep is never overlapped by the next tick), a failed sweep logged and retried at the next tick, and shutdown
 * waiting for the sweep in flight. The sweep itself must be idempotent across replicas (no leader).
 */
export abstract class IntervalSweep implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  protected readonly logger: Logger;

  protected constructor(name: string) {
    this.logger = new Logger(name);
  }

  /** Time between ticks, read at bootstrap. */
  protected abstract get intervalMs(): number;

  abstract sweep(): Promise<unknown>;

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.sweep()
      .catch((error: unknown) => this.logger.error(`sweep failed: ${String(error)}`))
      .finally(() => (this.running = undefined));
  }
}
