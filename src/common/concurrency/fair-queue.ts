/**
 * Who a queued job is for. Fairness is shared out per lane: one lane per user, so all of a user's keys share
 * it, and named lanes for internal callers that have no user (benches, engine tests, background work).
 */
export interface Lane {
  readonly key: string;
  /** Internal lanes are trusted callers: they are not held to a user's share of the slots. */
  readonly internal: boolean;
}

export const userLane = (userId: string): Lane => ({ key: `user:${userId}`, internal: false });
export const internalLane = (name: string): Lane => ({ key: `internal:${name}`, internal: true });

export type Admission<T> =
  | { admitted: true; /** A job of a longer lane pushed out to make room (refuse it). */ evicted: T | null }
  | { admitted: false; reason: 'lane_full' | 'queue_full' };

interface LaneQueue<T> {
  lane: Lane;
  items: T[];
}

/**
 * Per-lane FIFO queues served round robin: each `take` serves the first lane in turn order (among those the
 * caller ranks first) and sends that lane to the back of the turn order. A lane joins at the back when it
 * gets its first job, so emptying one's queue and refilling it gains nothing.
 *
 * Two bounds: `maxPerLane` (a lane's own flood is refused — for that lane only) and `maxTotal` (memory). At
 * `maxTotal`, a newcomer whose lane is shorter than the longest by more than one pushes out that lane's newest
 * job instead of being refused ("longest queue drop"), so many flooding lanes cannot fill the queue against a
 * lane that has almost nothing waiting.
 *
 * Pure bookkeeping: no clock, no promises. `FairLimiter` puts slots, deadlines and estimates around it.
 */
export class FairQueue<T> {
  // A Map iterates in insertion order: deleting and re-inserting a lane sends it to the back of the turn.
  private readonly lanes = new Map<string, LaneQueue<T>>();
  private total = 0;

  constructor(
    readonly maxPerLane: number,
    readonly maxTotal: number,
  ) {}

  get size(): number {
    return this.total;
  }

  /** Lanes with something waiting, in turn order. */
  get laneCount(): number {
    return this.lanes.size;
  }

  queuedIn(lane: Lane): number {
    return this.lanes.get(lane.key)?.items.length ?? 0;
  }

  push(lane: Lane, item: T): Admission<T> {
    const own = this.lanes.get(lane.key);
    const ownLength = own?.items.length ?? 0;
    if (ownLength >= this.maxPerLane) return { admitted: false, reason: 'lane_full' };
    let evicted: T | null = null;
    if (this.total >= this.maxTotal) {
      const longest = this.longestLane();
      if (!longest || longest.items.length <= ownLength + 1) return { admitted: false, reason: 'queue_full' };
      evicted = this.dropNewest(longest);
    }
    if (own) own.items.push(item);
    else this.lanes.set(lane.key, { lane, items: [item] });
    this.total++;
    return { admitted: true, evicted };
  }

  /**
   * The oldest job of the lane `rank` puts first (compared element by element, lowest first; null: may not
   * run now), the first in turn order among equals; that lane moves to the back of the turn.
   */
  take(rank: (lane: Lane) => readonly number[] | null = () => []): { lane: Lane; item: T } | undefined {
    let best: LaneQueue<T> | undefined;
    let bestRank: readonly number[] = [];
    for (const queue of this.lanes.values()) {
      const r = rank(queue.lane);
      if (r !== null && (!best || before(r, bestRank))) {
        best = queue;
        bestRank = r;
      }
    }
    if (!best) return undefined;
    const item = best.items.shift() as T;
    this.total--;
    this.lanes.delete(best.lane.key);
    if (best.items.length > 0) this.lanes.set(best.lane.key, best);
    return { lane: best.lane, item };
  }

  /** Takes a waiting job out (its deadline passed); false when it is no longer queued. */
  remove(lane: Lane, item: T): boolean {
    const queue = this.lanes.get(lane.key);
    const index = queue ? queue.items.indexOf(item) : -1;
    if (!queue || index < 0) return false;
    queue.items.splice(index, 1);
    this.total--;
    if (queue.items.length === 0) this.lanes.delete(lane.key);
    return true;
  }

  /** Every waiting job, emptying the queue (shutdown). */
  drain(): T[] {
    const items = [...this.lanes.values()].flatMap((q) => q.items);
    this.lanes.clear();
    this.total = 0;
    return items;
  }

  /**
   * Roughly how many jobs would be served before one more job of `lane`, if every lane could run: it would be
   * its lane's p-th job, and round robin serves each other lane up to p times before it.
   */
  aheadOf(lane: Lane): number {
    const position = this.queuedIn(lane) + 1;
    let ahead = position - 1;
    for (const queue of this.lanes.values()) {
      if (queue.lane.key !== lane.key) ahead += Math.min(queue.items.length, position);
    }
    return ahead;
  }

  private longestLane(): LaneQueue<T> | undefined {
    let longest: LaneQueue<T> | undefined;
    for (const queue of this.lanes.values()) {
      if (!longest || queue.items.length > longest.items.length) longest = queue;
    }
    return longest;
  }

  private dropNewest(queue: LaneQueue<T>): T {
    const item = queue.items.pop() as T;
    this.total--;
    if (queue.items.length === 0) this.lanes.delete(queue.lane.key);
    return item;
  }
}

/** Lexicographic order of two ranks: true when `a` comes strictly first. */
function before(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i];
  }
  return a.length < b.length;
}
