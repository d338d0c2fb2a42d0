import { LruCache } from '../common/cache/lru-cache';

/**
 * At most `perMinute` audit rows per subject (a client IP, a user) per minute, so a flood of the same failure
 * cannot flood the table; what was left out is counted into the next row written (`suppressed_since_last`).
 */
export class AuditRowBudget {
  /** The least recently seen subject is forgotten first: a flood of new subjects cannot reset a busy one. */
  private readonly windows: LruCache<string, { start: number; written: number; suppressed: number }>;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
    maxSubjects = 10_000,
  ) {
    this.windows = new LruCache({ maxEntries: maxSubjects });
  }

  /** null: no row this time (counted); else how many were left out since the subject's last row. */
  take(subject: string): number | null {
    const now = this.now();
    let window = this.windows.get(subject);
    if (!window || now - window.start >= 60_000) {
      window = { start: now, written: 0, suppressed: window?.suppressed ?? 0 };
      this.windows.set(subject, window);
    }
    if (window.written >= this.perMinute) {
      window.suppressed += 1;
      return null;
    }
    window.written += 1;
    const suppressed = window.suppressed;
    window.suppressed = 0;
    return suppressed;
  }
}
