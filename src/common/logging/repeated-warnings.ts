/** Where the warnings go (a Nest Logger has this shape). */
interface WarningSink {
  warn(message: string): void;
}

/**
 * A warning that repeats while something stays broken (a client reconnecting every second or two while Redis
 * is away) is written at most once per interval, the next line saying how many were left out; `recovered()`
 * (the connection is back) lets the next outage's first warning through at once.
 */
export class RepeatedWarnings {
  private lastAt = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly sink: WarningSink,
    private readonly everyMs = 60_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  warn(message: string): void {
    const now = this.now();
    if (now - this.lastAt < this.everyMs) {
      this.suppressed++;
      return;
    }
    const left = this.suppressed > 0 ? ` (and ${this.suppressed} more like it since the last line)` : '';
    this.sink.warn(`${message}${left}`);
    this.lastAt = now;
    this.suppressed = 0;
  }

  recovered(): void {
    this.lastAt = -Infinity;
    this.suppressed = 0;
  }
}
