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

/**
 * The wait before a retry: the backoff, or the server's `Retry-After` when it asks for longer — retrying
 * sooner only meets the same refusal. Spread over a quarter more (agents refused together come back apart),
 * and bounded like the backoff (30 s, and `capMs` while holding leases: a renewal beats a lost lease).
 * `backoffCapMs` bounds the backoff alone (an idle heartbeat's: the server's interval).
 */
export function retryWaitMs(
  failures: number,
  jitter: number,
  retryAfterMs: number | null,
  capMs = Infinity,
  backoffCapMs = capMs,
): number {
  const backoff = backoffMs(failures, jitter, Math.min(capMs, backoffCapMs));
  if (retryAfterMs === null) return backoff;
  return Math.max(backoff, Math.min(MAX_BACKOFF_MS, capMs, retryAfterMs * (1 + 0.25 * jitter)));
}

/**
 * `Retry-After` in milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3), null when absent or
 * unreadable (the backoff then decides alone).
 */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Every HTTP-date form ends in GMT; Date.parse alone would read '-3' as a year.
  const date = value.endsWith('GMT') ? Date.parse(value) : NaN;
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

/** Waits for `work`, but no longer than `ms`. */
export async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
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
