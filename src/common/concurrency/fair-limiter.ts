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

/** What the limiter knows of a lane while it has jobs running or waiting; forgotten when it has neither. */
interface LaneState {
  running: number;
  /** When its latest job started (a sequence number); 0 if none has yet. */
  lastStart: number;
}

interface Waiter {
  start: () => void;
  refuse: (refusal: QueueRefusal) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

// Weight of the newest run in the moving average of run times.
const SMOOTHING = 0.2;

/**
 * Runs jobs at most `limit` at a time, shared fairly between lanes (users). A freed slot passes straight to a
 * waiting job: of the lane with the fewest jobs running and, among equals, of the one served longest ago
 * (round robin, where a user who had nothing going counts as never served). A user lane never holds more
 * than `maxRunningPerUser` slots, and the queue is bounded per lane and in total (see FairQueue). Optionally,
 * a job may wait at most `maxWaitMs`, and one whose expected wait is already longer is refused at once.
 * Refusals are `QueueRefusal`s: the job never ran.
 */
export class FairLimiter {
  private readonly queue: FairQueue<Waiter>;
  private readonly lanes = new Map<string, LaneState>();
  private running = 0;
  private starts = 0;
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
    return this.lanes.get(lane.key)?.running ?? 0;
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
    for (const [key, state] of this.lanes) if (state.running === 0) this.lanes.delete(key);
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
    // A user whose own queue is full is told so, whatever the wait would be.
    if (this.queue.queuedIn(lane) >= this.options.maxQueuedPerLane) {
      return Promise.reject(new QueueRefusal('lane_full', this.backlogMs(lane)));
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
      this.stateOf(lane);
      if (admission.evicted) this.refuseWaiting(admission.evicted, 'pushed_out');
      if (Number.isFinite(maxWait)) {
        waiter.timer = setTimeout(() => {
          if (!this.queue.remove(lane, waiter)) return;
          waiter.refuse(new QueueRefusal('deadline', this.backlogMs(lane)));
          this.forgetIfIdle(lane);
        }, maxWait);
        waiter.timer.unref?.();
      }
    });
  }

  private release(lane: Lane): void {
    this.running--;
    this.stateOf(lane).running--;
    this.forgetIfIdle(lane);
    this.dispatch();
  }

  private dispatch(): void {
    while (this.running < this.options.limit) {
      // Fewest running first; among equals, the lane whose latest job started longest ago (a lane that had
      // nothing running or waiting counts as never started, so a light user goes before a flood's next job);
      // among lanes that never started, the one with less waiting.
      const next = this.queue.take((lane) => {
        const state = this.lanes.get(lane.key);
        const running = state?.running ?? 0;
        if (running >= this.shareOf(lane)) return null;
        return [running, state?.lastStart ?? 0, this.queue.queuedIn(lane)];
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
    const state = this.stateOf(lane);
    state.running++;
    state.lastStart = ++this.starts;
  }

  private stateOf(lane: Lane): LaneState {
    let state = this.lanes.get(lane.key);
    if (!state) {
      state = { running: 0, lastStart: 0 };
      this.lanes.set(lane.key, state);
    }
    return state;
  }

  private forgetIfIdle(lane: Lane): void {
    if (this.runningIn(lane) === 0 && this.queue.queuedIn(lane) === 0) this.lanes.delete(lane.key);
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
