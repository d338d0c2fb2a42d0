import { FairQueue, Lane } from './fair-queue';

export type RefusalReason =
  /** The caller's own lane has `maxQueuedPerLane` jobs waiting. */
  | 'lane_full'
  /** The whole queue is full of lanes no longer than the caller's. */
  | 'queue_full'
  /** Admitted, then pushed out by a caller with less waiting (the queue was full). */
  | 'pushed_out'
  /** The expected wait is already past `maxWaitMs`: refused at once rather than after waiting. */
  | 'wait_too_long'
  /** Waited `maxWaitMs` without getting a slot. */
  | 'deadline'
  | 'closed';

/** A job that was never started: nothing about it was decided. `retryAfterMs` is an estimate. */
export class QueueRefusal extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly retryAfterMs: number,
  ) {
    super(`not started: ${reason}`);
    this.name = 'QueueRefusal';
  }
}

export interface FairLimiterOptions {
  /** Jobs running at once, over all lanes. */
  limit: number;
  /** Most jobs one user lane may run at once (internal lanes may use every slot). */
  maxRunningPerUser: number;
  maxQueuedPerLane: number;
  maxQueued: number;
  /** A job that has not started after this long is refused; so is one whose expected wait is longer. */
  maxWaitMs?: number;
  /** The run time assumed for the estimates until runs have been measured. */
  expectedRunMs: number;
  /** Milliseconds, monotonic; injectable for tests. */
  now?: () => number;
}

interface Waiter {
  start: () => void;
  refuse: (refusal: QueueRefusal) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

// Weight of the newest run in the moving average of run times.
const SMOOTHING = 0.2;

/**
 * Runs jobs at most `limit` at a time, shared fairly between lanes (users): a freed slot goes to the waiting lane
 * with the fewest jobs running, round robin among equals; a user lane never holds more than `maxRunningPerUser`
 * slots, and the queue is bounded per lane
 * and in total (see FairQueue). A slot that frees passes straight to the next job in turn. Optionally, a job
 * may wait at most `maxWaitMs`, and one whose expected wait is already longer is refused at once.
 * Refusals are `QueueRefusal`s: the job never ran.
 */
export class FairLimiter {
  private readonly queue: FairQueue<Waiter>;
  private readonly runningByLane = new Map<string, number>();
  private running = 0;
  private meanRunMs: number;
  private closed = false;
  private readonly now: () => number;

  constructor(readonly options: FairLimiterOptions) {
    this.queue = new FairQueue(options.maxQueuedPerLane, options.maxQueued);
    this.meanRunMs = options.expectedRunMs;
    this.now = options.now ?? (() => performance.now());
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.queue.size;
  }

  queuedIn(lane: Lane): number {
    return this.queue.queuedIn(lane);
  }

  runningIn(lane: Lane): number {
    return this.runningByLane.get(lane.key) ?? 0;
  }

  /** The moving average of measured run times (the prior until a run ends). */
  get expectedRunMs(): number {
    return this.meanRunMs;
  }

  async run<T>(lane: Lane, task: () => Promise<T>): Promise<T> {
    await this.acquire(lane);
    const started = this.now();
    try {
      return await task();
    } finally {
      this.meanRunMs += SMOOTHING * (this.now() - started - this.meanRunMs);
      this.release(lane);
    }
  }

  /** Refuses every waiting job (shutdown); later calls are refused at once. */
  close(): void {
    this.closed = true;
    for (const waiter of this.queue.drain()) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.refuse(new QueueRefusal('closed', 0));
    }
  }

  /**
   * How long one more job of `lane` would wait: the jobs ahead of it in turn, over every slot, or the lane's
   * own backlog over its share, whichever is longer, in average runs.
   */
  expectedWaitMs(lane: Lane): number {
    if (this.mayStart(lane) && this.queue.queuedIn(lane) === 0) return 0;
    const ahead = this.queue.aheadOf(lane) + 1;
    const own = this.queue.queuedIn(lane) + 1;
    return this.meanRunMs * Math.max(ahead / this.options.limit, own / this.shareOf(lane));
  }

  private acquire(lane: Lane): Promise<void> {
    if (this.closed) return Promise.reject(new QueueRefusal('closed', 0));
    // After every change, a free slot is handed to the next job that may run; so a lane that may start now
    // has nothing of its own waiting, and no one else waiting may run: starting at once jumps no one.
    if (this.mayStart(lane)) {
      this.occupy(lane);
      return Promise.resolve();
    }
    const maxWait = this.options.maxWaitMs ?? Infinity;
    const expected = this.expectedWaitMs(lane);
    if (expected > maxWait) return Promise.reject(new QueueRefusal('wait_too_long', expected));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { start: resolve, refuse: reject, timer: null };
      const admission = this.queue.push(lane, waiter);
      if (!admission.admitted) {
        reject(new QueueRefusal(admission.reason, this.backlogMs(lane)));
        return;
      }
      if (admission.evicted) this.refuseWaiting(admission.evicted, 'pushed_out');
      if (Number.isFinite(maxWait)) {
        waiter.timer = setTimeout(() => {
          if (this.queue.remove(lane, waiter)) waiter.refuse(new QueueRefusal('deadline', this.backlogMs(lane)));
        }, maxWait);
        waiter.timer.unref?.();
      }
    });
  }

  private release(lane: Lane): void {
    this.running--;
    const left = this.runningIn(lane) - 1;
    if (left > 0) this.runningByLane.set(lane.key, left);
    else this.runningByLane.delete(lane.key);
    this.dispatch();
  }

  private dispatch(): void {
    while (this.running < this.options.limit) {
      // Fewest running first (a user with nothing running goes before one holding slots), then turn order.
      const next = this.queue.take((lane) => {
        const running = this.runningIn(lane);
        return running < this.shareOf(lane) ? running : null;
      });
      if (!next) return;
      if (next.item.timer) clearTimeout(next.item.timer);
      this.occupy(next.lane);
      next.item.start();
    }
  }

  private mayStart(lane: Lane): boolean {
    return this.running < this.options.limit && this.runningIn(lane) < this.shareOf(lane);
  }

  private occupy(lane: Lane): void {
    this.running++;
    this.runningByLane.set(lane.key, this.runningIn(lane) + 1);
  }

  private shareOf(lane: Lane): number {
    return lane.internal ? this.options.limit : Math.min(this.options.maxRunningPerUser, this.options.limit);
  }

  /** Time for the lane's own waiting jobs to run through its share: when retrying is worth it. */
  private backlogMs(lane: Lane): number {
    return (this.meanRunMs * Math.max(1, this.queue.queuedIn(lane))) / this.shareOf(lane);
  }

  private refuseWaiting(waiter: Waiter, reason: RefusalReason): void {
    if (waiter.timer) clearTimeout(waiter.timer);
    waiter.refuse(new QueueRefusal(reason, this.meanRunMs));
  }
}
