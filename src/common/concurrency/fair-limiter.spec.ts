import { FairLimiter, FairLimiterOptions, QueueRefusal } from './fair-limiter';
import { internalLane, Lane, userLane } from './fair-queue';

const A = userLane('a');
const B = userLane('b');
const C = userLane('c');

/**
 * A limiter whose jobs are held until the test finishes them, so every test reads the order in which jobs
 * started — no timing involved.
 */
function harness(options: Partial<FairLimiterOptions> = {}) {
  let clock = 0;
  const sut = new FairLimiter({
    limit: 2,
    maxRunningPerUser: 2,
    maxQueuedPerLane: 100,
    maxQueued: 1000,
    expectedRunMs: 100,
    now: () => clock,
    ...options,
  });
  const started: string[] = [];
  const finishers = new Map<string, () => void>();
  const outcomes = new Map<string, string>();
  const submit = (lane: Lane, name: string) => {
    const done = sut.run(lane, () => {
      started.push(name);
      return new Promise<void>((resolve) => finishers.set(name, resolve));
    });
    done.then(
      () => outcomes.set(name, 'done'),
      (e: unknown) => outcomes.set(name, e instanceof QueueRefusal ? e.reason : String(e)),
    );
    return done;
  };
  /** Ends a running job and lets the limiter hand its slot on. */
  const finish = async (name: string, tookMs = 0) => {
    await flush();
    const resolve = finishers.get(name);
    if (!resolve) throw new Error(`${name} is not running`);
    clock += tookMs;
    resolve();
    await flush();
  };
  return { sut, started, outcomes, submit, finish, advanceClock: (ms: number) => (clock += ms) };
}

/** Lets settled promises run their callbacks (microtasks only, so it also works under fake timers). */
const flush = async () => {
  for (let i = 0; i < 50; i++) await Promise.resolve();
};

describe('FairLimiter', () => {
  it('runs at most `limit` jobs, and passes a freed slot straight to a waiting job', async () => {
    const h = harness();
    ['x1', 'x2', 'x3'].forEach((x) => void h.submit(internalLane('t'), x));
    await flush();
    expect(h.started).toEqual(['x1', 'x2']);
    expect({ active: h.sut.active, queued: h.sut.queued }).toEqual({ active: 2, queued: 1 });
    await h.finish('x1');
    expect(h.started).toEqual(['x1', 'x2', 'x3']);
    expect(h.sut.active).toBe(2);
  });

  it('serves a light user’s job at the next free slot while a heavy user still has a long queue', async () => {
    const h = harness();
    for (let i = 1; i <= 20; i++) void h.submit(A, `a${i}`);
    void h.submit(B, 'b1');
    await flush();
    expect(h.started).toEqual(['a1', 'a2']);
    await h.finish('a1');
    expect(h.started).toEqual(['a1', 'a2', 'b1']);
    expect(h.sut.queuedIn(A)).toBe(18);
  });

  it('serves waiting users round robin, counting a job that started at once as a turn', async () => {
    const h = harness({ limit: 1 });
    for (const lane of [A, B, C]) for (let i = 1; i <= 3; i++) void h.submit(lane, `${lane.key}#${i}`);
    await flush();
    for (let i = 0; i < 8; i++) await h.finish(h.started[i]);
    expect(h.started).toEqual([
      'user:a#1', // started at once, before anyone queued: A's turn is used
      'user:b#1',
      'user:c#1',
      'user:a#2',
      'user:b#2',
      'user:c#2',
      'user:a#3',
      'user:b#3',
      'user:c#3',
    ]);
  });

  it('serves a user who comes back with nothing going before a flood’s next job, at every free slot', async () => {
    const h = harness({ limit: 2, maxRunningPerUser: 1 });
    for (let i = 1; i <= 4; i++) void h.submit(A, `a${i}`);
    for (let i = 1; i <= 4; i++) void h.submit(C, `c${i}`);
    await h.finish('a1');
    expect(h.started).toEqual(['a1', 'c1', 'a2']);
    void h.submit(B, 'b1');
    await h.finish('c1'); // C waited longer than B, but B has had no turn
    await h.finish('b1'); // B has nothing waiting: C's next takes the slot
    void h.submit(B, 'b2');
    await h.finish('a2'); // B had nothing going or waiting between its runs: a newcomer again
    expect(h.started).toEqual(['a1', 'c1', 'a2', 'b1', 'c2', 'b2']);
    expect(h.sut.queuedIn(A) + h.sut.queuedIn(C)).toBe(4);
  });

  it('among users who have had no turn yet, serves the one with less waiting first', async () => {
    const h = harness({ limit: 1 });
    void h.submit(A, 'a1');
    ['c1', 'c2', 'c3'].forEach((c) => void h.submit(C, c));
    void h.submit(B, 'b1');
    await h.finish('a1');
    await h.finish('b1');
    expect(h.started).toEqual(['a1', 'b1', 'c1']);
  });

  it('holds a user to its share of the slots, leaving the rest for others even when they come later', async () => {
    const h = harness({ limit: 3, maxRunningPerUser: 2 });
    for (let i = 1; i <= 5; i++) void h.submit(A, `a${i}`);
    await flush();
    expect(h.started).toEqual(['a1', 'a2']);
    expect(h.sut.runningIn(A)).toBe(2);
    void h.submit(B, 'b1');
    await flush();
    expect(h.started).toEqual(['a1', 'a2', 'b1']);
    await h.finish('b1'); // the freed slot is B's share, not A's: A is at its share
    expect(h.started).toEqual(['a1', 'a2', 'b1']);
    await h.finish('a1');
    expect(h.started).toEqual(['a1', 'a2', 'b1', 'a3']);
  });

  it('lets internal lanes use every slot', async () => {
    const h = harness({ limit: 3, maxRunningPerUser: 1 });
    ['i1', 'i2', 'i3'].forEach((x) => void h.submit(internalLane('bench'), x));
    await flush();
    expect(h.started).toEqual(['i1', 'i2', 'i3']);
  });

  it('refuses a user past its own queue bound with a retry estimate, and still admits others', async () => {
    const h = harness({ limit: 1, maxQueuedPerLane: 2 });
    void h.submit(A, 'a1');
    void h.submit(A, 'a2');
    void h.submit(A, 'a3');
    const refused = h.submit(A, 'a4');
    await expect(refused).rejects.toBeInstanceOf(QueueRefusal);
    await expect(refused).rejects.toMatchObject({ reason: 'lane_full', retryAfterMs: 200 });
    void h.submit(B, 'b1');
    await h.finish('a1');
    expect(h.started).toEqual(['a1', 'b1']);
  });

  it('when the whole queue is full, a newcomer pushes out the heaviest user’s newest job', async () => {
    const h = harness({ limit: 1, maxQueued: 3 });
    ['a1', 'a2', 'a3', 'a4'].forEach((a) => void h.submit(A, a));
    void h.submit(B, 'b1');
    await flush();
    expect(h.outcomes.get('a4')).toBe('pushed_out');
    await expect(h.submit(A, 'a5')).rejects.toMatchObject({ reason: 'queue_full' });
    await h.finish('a1');
    expect(h.started).toEqual(['a1', 'b1']);
  });

  it('refuses at once a job whose expected wait exceeds maxWaitMs, estimated from measured runs', async () => {
    const h = harness({ limit: 2, maxWaitMs: 1000, expectedRunMs: 100 });
    void h.submit(A, 'a1');
    void h.submit(A, 'a2');
    await h.finish('a1', 300);
    expect(h.sut.expectedRunMs).toBeCloseTo(140, 9); // 100 + 0.2 × (300 − 100)
    for (let i = 3; i <= 20; i++) void h.submit(A, `a${i}`);
    await flush();
    // a3 takes the free slot. Each job queued behind two busy slots waits another 140 / 2 = 70 ms: the 14th
    // waits 980 ms, the 15th would wait 1050 ms, so a18…a20 are refused at once.
    expect(h.started).toEqual(['a1', 'a2', 'a3']);
    expect(h.sut.queuedIn(A)).toBe(14);
    const refused = [...h.outcomes].filter(([, outcome]) => outcome === 'wait_too_long').map(([n]) => n);
    expect(refused).toEqual(['a18', 'a19', 'a20']);
  });

  describe('deadlines (fake timers)', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('refuses a job still waiting at maxWaitMs, and never starts it', async () => {
      const h = harness({ limit: 1, maxWaitMs: 500, expectedRunMs: 10 });
      void h.submit(A, 'a1');
      const late = h.submit(B, 'b1');
      jest.advanceTimersByTime(499);
      await Promise.resolve();
      expect(h.sut.queued).toBe(1);
      jest.advanceTimersByTime(1);
      await expect(late).rejects.toMatchObject({ reason: 'deadline' });
      expect(h.sut.queued).toBe(0);
      await h.finish('a1');
      expect(h.started).toEqual(['a1']);
    });

    it('clears the deadline of a job that started in time', async () => {
      const h = harness({ limit: 1, maxWaitMs: 500, expectedRunMs: 10 });
      void h.submit(A, 'a1');
      const onTime = h.submit(B, 'b1');
      await h.finish('a1');
      expect(h.started).toEqual(['a1', 'b1']);
      await h.finish('b1');
      await expect(onTime).resolves.toBeUndefined();
      expect(jest.getTimerCount()).toBe(0);
    });
  });

  it('on close, refuses every waiting job and every later one', async () => {
    const h = harness({ limit: 1 });
    void h.submit(A, 'a1');
    const waiting = h.submit(B, 'b1');
    h.sut.close();
    await expect(waiting).rejects.toMatchObject({ reason: 'closed' });
    await expect(h.submit(C, 'c1')).rejects.toMatchObject({ reason: 'closed' });
    await h.finish('a1');
    await expect(h.submit(C, 'c2')).rejects.toMatchObject({ reason: 'closed' });
  });

  it('frees the slot of a job that throws, and the error reaches the caller', async () => {
    const h = harness({ limit: 1 });
    const failing = h.sut.run(A, () => Promise.reject(new Error('boom')));
    await expect(failing).rejects.toThrow('boom');
    expect(h.sut.active).toBe(0);
    void h.submit(B, 'b1');
    await flush();
    expect(h.started).toEqual(['b1']);
  });
});
