const MAX_BACKOFF_MS = 30_000;
const BASE_BACKOFF_MS = 250;

/**
 * Exponential backoff with full jitter (AWS's "full jitter"), so agents cut off together do not return in
 * step; never longer than `capMs` (the agent passes a third of the lease while holding leases, so renewals
 * still get through).
 */
export function backoffMs(failures: number, jitter: number, capMs = Infinity): number {
  const cap = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.min(failures, 16), capMs);
  return Math.max(50, cap * jitter);
}

/** Timed sleeps that end early: every one at `endAll()`, one registered in `wakers` when it is woken. */
export class Sleeps {
  private readonly sleepers = new Set<() => void>();
  private ended = false;

  sleep(ms: number, wakers?: Set<() => void>): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        wakers?.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
      wakers?.add(wake);
    });
  }

  endAll(): void {
    this.ended = true;
    for (const wake of this.sleepers) wake();
  }
}
