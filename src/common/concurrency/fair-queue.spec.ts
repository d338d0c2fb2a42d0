import { FairQueue, internalLane, Lane, userLane } from './fair-queue';

const A = userLane('a');
const B = userLane('b');
const C = userLane('c');

/** Takes everything, returning the items in the order served. */
function takeAll<T>(sut: FairQueue<T>, rank?: (lane: Lane) => readonly number[] | null): T[] {
  const out: T[] = [];
  for (let next = sut.take(rank); next; next = sut.take(rank)) out.push(next.item);
  return out;
}

describe('FairQueue', () => {
  it('serves lanes round robin, each lane in its own arrival order', () => {
    const sut = new FairQueue<string>(100, 100);
    for (let i = 1; i <= 4; i++) sut.push(A, `a${i}`);
    sut.push(B, 'b1');
    sut.push(B, 'b2');
    sut.push(C, 'c1');
    expect(takeAll(sut)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
    expect(sut.size).toBe(0);
    expect(sut.laneCount).toBe(0);
  });

  it('makes a lane that arrives behind a long one wait one turn, not the whole queue', () => {
    const sut = new FairQueue<string>(100, 100);
    for (let i = 1; i <= 50; i++) sut.push(A, `a${i}`);
    expect(sut.take()?.item).toBe('a1');
    sut.push(B, 'b1');
    expect(sut.take()?.item).toBe('a2');
    expect(sut.take()?.item).toBe('b1');
    expect(sut.queuedIn(A)).toBe(48);
  });

  it('gains a lane nothing for emptying its queue and refilling it: it rejoins at the back', () => {
    const sut = new FairQueue<string>(100, 100);
    sut.push(A, 'a1');
    sut.push(B, 'b1');
    sut.push(B, 'b2');
    expect(sut.take()?.item).toBe('a1'); // A's queue is empty now
    sut.push(A, 'a2');
    expect(takeAll(sut)).toEqual(['b1', 'a2', 'b2']);
  });

  it('skips lanes the caller says may not run now, and keeps their place in turn', () => {
    const sut = new FairQueue<string>(100, 100);
    sut.push(A, 'a1');
    sut.push(A, 'a2');
    sut.push(B, 'b1');
    const notA = (lane: Lane) => (lane.key === A.key ? null : []);
    expect(sut.take(notA)?.item).toBe('b1');
    expect(sut.take(notA)).toBeUndefined();
    expect(takeAll(sut)).toEqual(['a1', 'a2']);
  });

  it('serves the lane ranked lowest first, and lanes of equal rank in turn order', () => {
    const sut = new FairQueue<string>(100, 100);
    ['a1', 'a2'].forEach((a) => sut.push(A, a));
    sut.push(B, 'b1');
    sut.push(C, 'c1');
    const ranks: Record<string, number[]> = { [A.key]: [1, 0], [B.key]: [0, 5], [C.key]: [0, 5] };
    const rank = (lane: Lane) => ranks[lane.key];
    expect(sut.take(rank)?.item).toBe('b1');
    expect(sut.take(rank)?.item).toBe('c1');
    ranks[B.key] = [0, 1];
    sut.push(C, 'c2');
    sut.push(B, 'b2');
    expect(sut.take(rank)?.item).toBe('b2'); // C is first in turn, but the second element decides
    expect(sut.take(rank)?.item).toBe('c2');
    expect(sut.take(rank)?.item).toBe('a1');
  });

  it('refuses a lane past its own bound, and only that lane', () => {
    const sut = new FairQueue<string>(2, 100);
    expect(sut.push(A, 'a1')).toEqual({ admitted: true, evicted: null });
    sut.push(A, 'a2');
    expect(sut.push(A, 'a3')).toEqual({ admitted: false, reason: 'lane_full' });
    expect(sut.push(B, 'b1')).toEqual({ admitted: true, evicted: null });
  });

  it('when full, lets a short lane push out the newest job of the longest lane', () => {
    const sut = new FairQueue<string>(100, 4);
    ['a1', 'a2', 'a3'].forEach((a) => sut.push(A, a));
    sut.push(C, 'c1');
    expect(sut.push(B, 'b1')).toEqual({ admitted: true, evicted: 'a3' });
    expect(sut.size).toBe(4);
    expect(takeAll(sut)).toEqual(['a1', 'c1', 'b1', 'a2']);
  });

  it('when full of lanes no longer than the newcomer’s (plus one), refuses the newcomer', () => {
    const sut = new FairQueue<string>(100, 4);
    ['a1', 'a2'].forEach((a) => sut.push(A, a));
    ['b1', 'b2'].forEach((b) => sut.push(B, b));
    expect(sut.push(C, 'c1')).toEqual({ admitted: true, evicted: 'a2' });
    // Now A 1, B 2, C 1: B is longest but only by one over C.
    expect(sut.push(C, 'c2')).toEqual({ admitted: false, reason: 'queue_full' });
    // And a flooding lane cannot push out others when it is itself the longest.
    expect(sut.push(B, 'b3')).toEqual({ admitted: false, reason: 'queue_full' });
  });

  it('removes a waiting job (deadline) and reports one that is no longer queued', () => {
    const sut = new FairQueue<string>(100, 100);
    sut.push(A, 'a1');
    sut.push(A, 'a2');
    expect(sut.remove(A, 'a1')).toBe(true);
    expect(sut.remove(A, 'a1')).toBe(false);
    expect(sut.remove(B, 'a2')).toBe(false);
    expect(sut.remove(A, 'a2')).toBe(true);
    expect(sut.size).toBe(0);
    expect(sut.laneCount).toBe(0);
  });

  it('estimates the jobs served before one more job of a lane', () => {
    const sut = new FairQueue<string>(100, 100);
    for (let i = 0; i < 10; i++) sut.push(A, `a${i}`);
    sut.push(B, 'b1');
    // B's next would be its 2nd: A is served twice and B once before it.
    expect(sut.aheadOf(B)).toBe(3);
    // A's next would be its 11th: its own ten, and B's one.
    expect(sut.aheadOf(A)).toBe(11);
    expect(sut.aheadOf(C)).toBe(2);
  });

  it('keeps internal lanes apart by name and apart from users', () => {
    const sut = new FairQueue<string>(1, 100);
    expect(sut.push(internalLane('bench'), 'x').admitted).toBe(true);
    expect(sut.push(internalLane('tasks'), 'y').admitted).toBe(true);
    expect(sut.push(userLane('bench'), 'z').admitted).toBe(true);
    expect(sut.push(internalLane('bench'), 'w')).toEqual({ admitted: false, reason: 'lane_full' });
    expect(sut.drain().sort()).toEqual(['x', 'y', 'z']);
    expect(sut.size).toBe(0);
  });
});
