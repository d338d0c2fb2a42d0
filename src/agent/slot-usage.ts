import type { Reporter } from './reporter';

/**
 * How busy the agent's slots were between two counter reports: the share of slot-time in which a run held a
 * slot (from its start until it finished executing). For an operator: a low share while the queue is full
 * means runs are short next to the round trips between them, and `--concurrency` can be raised.
 */
export class SlotUsage {
  private busyMs = 0;
  private since: number;
  /** Runs holding a slot now, with when their slot time was last counted from. */
  private readonly holding = new Map<string, number>();

  constructor(
    private slots: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.since = now();
  }

  /** The slot count changed (the server leases fewer runs): counted from the next report on. */
  resize(slots: number): void {
    this.slots = slots;
  }

  begin(runId: string): void {
    this.holding.set(runId, this.now());
  }

  end(runId: string): void {
    const from = this.holding.get(runId);
    if (from === undefined) return;
    this.busyMs += this.now() - from;
    this.holding.delete(runId);
  }

  /** The share (0–1) since the last call (or since start), counting runs still executing up to now. */
  take(): number {
    const now = this.now();
    let busy = this.busyMs;
    for (const [runId, from] of this.holding) {
      busy += now - from;
      this.holding.set(runId, now);
    }
    const elapsed = now - this.since;
    this.busyMs = 0;
    this.since = now;
    return elapsed > 0 ? Math.min(1, busy / (this.slots * elapsed)) : 0;
  }
}

/**
 * The agent's execution slots: `concurrency`, or fewer when the server leases fewer runs to one node; how many
 * runs execute now; how busy the slots were (SlotUsage).
 */
export class Slots {
  private count: number;
  private executing = 0;
  private readonly usage: SlotUsage;

  constructor(
    readonly concurrency: number,
    clock?: () => number,
  ) {
    this.count = concurrency;
    this.usage = new SlotUsage(concurrency, clock);
  }

  get size(): number {
    return this.count;
  }

  begin(runId: string): void {
    this.executing++;
    this.usage.begin(runId);
  }

  end(runId: string): void {
    this.executing--;
    this.usage.end(runId);
  }

  /**
   * A slot is free once its run finished executing: the next run starts while the last result is still on its
   * way (a round trip or two). At most one result beyond the slots waits for its answer, so the node holds at
   * most one lease more than it has slots.
   */
  free(heldLeases: number): number {
    return Math.min(this.count - this.executing, this.count + 1 - heldLeases);
  }

  /**
   * Uses no more slots than the server leases to one node (more would only keep a claim waiting for nothing),
   * and says so once whenever that changes; true when it changed the count.
   */
  limitTo(maxConcurrentRuns: number, reporter: Reporter): boolean {
    const slots = Math.min(this.concurrency, maxConcurrentRuns);
    if (slots === this.count) return false;
    this.count = slots;
    this.usage.resize(slots);
    reporter.emit({
      event: 'slots_limited',
      slots,
      concurrency: this.concurrency,
      max_concurrent_runs: maxConcurrentRuns,
    });
    return true;
  }

  /** The busy share (0–1) since the last call: see SlotUsage.take. */
  takeBusyShare(): number {
    return this.usage.take();
  }
}
