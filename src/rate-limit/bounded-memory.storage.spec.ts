import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FakeClock } from '../common/clock/fake-clock';
import { BoundedMemoryThrottlerStorage } from './bounded-memory.storage';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

describe('BoundedMemoryThrottlerStorage', () => {
  it('counts hits in a window and blocks past the limit, like the Redis script', async () => {
    const sut = new BoundedMemoryThrottlerStorage(100);
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await sut.increment('k', 60_000, 3, 60_000, 'minute'));
    expect(results.map((r) => r.totalHits)).toEqual([1, 2, 3, 4]);
    expect(results.map((r) => r.isBlocked)).toEqual([false, false, false, true]);
    expect(results[3].timeToBlockExpire).toBe(60);
  });

  it('starts a new window when the ttl has passed, not before', async () => {
    const clock = new FakeClock();
    const sut = new BoundedMemoryThrottlerStorage(100, clock);
    await sut.increment('k', 20, 1, 20, 'burst');
    expect((await sut.increment('k', 20, 1, 20, 'burst')).isBlocked).toBe(true);
    clock.advance(19);
    expect(await sut.increment('k', 20, 1, 20, 'burst')).toMatchObject({ totalHits: 3, isBlocked: true });
    clock.advance(1);
    expect(await sut.increment('k', 20, 1, 20, 'burst')).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('ends the window at its time even when the block, begun mid-window, lasts longer (like the Redis script)', async () => {
    const clock = new FakeClock();
    const sut = new BoundedMemoryThrottlerStorage(100, clock);
    await sut.increment('k', 60_000, 1, 60_000, 'minute');
    clock.advance(30_000);
    // Over the limit half-way: blocked until 90 s, but the window (what Retry-After announces) ends at 60 s.
    expect(await sut.increment('k', 60_000, 1, 60_000, 'minute')).toMatchObject({
      totalHits: 2,
      timeToExpire: 30,
    });
    clock.advance(30_000);
    expect(await sut.increment('k', 60_000, 1, 60_000, 'minute')).toMatchObject({
      totalHits: 1,
      timeToExpire: 60,
      isBlocked: true,
    });
  });

  it('stays bounded after 100 000 distinct client addresses (entries and heap measured)', async () => {
    const sut = new BoundedMemoryThrottlerStorage(10_000);
    const client = (i: number) => `ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    for (let i = 0; i < 10_000; i++) await sut.increment(client(i), 60_000, 60, 60_000, 'minute');
    gc();
    const full = process.memoryUsage().heapUsed; // the store at its bound
    for (let i = 10_000; i < 100_000; i++) await sut.increment(client(i), 60_000, 60, 60_000, 'minute');
    gc();
    const grown = process.memoryUsage().heapUsed - full;
    expect(sut.size).toBeLessThanOrEqual(10_000);
    // Keeping 90 000 more clients would take ~10 MB more; bounded, the heap stays where it was.
    expect(grown).toBeLessThan(2 * 1024 * 1024);
    console.log(
      `100 000 clients: ${sut.size} buckets kept, heap grew ${(grown / 1024).toFixed(0)} KB after the bound`,
    );
  });
});
