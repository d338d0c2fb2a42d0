import { backoffMs, Sleeps } from './pacing';

describe('backoffMs', () => {
  it('doubles per failure up to 30 s, within the cap given, times the jitter, never under 50 ms', () => {
    expect([1, 2, 3].map((failures) => backoffMs(failures, 1))).toEqual([500, 1000, 2000]);
    expect(backoffMs(40, 1)).toBe(30_000);
    expect(backoffMs(40, 1, 10_000)).toBe(10_000);
    expect(backoffMs(3, 0.5)).toBe(1000);
    expect(backoffMs(3, 0)).toBe(50);
  });
});

describe('Sleeps', () => {
  it('a woken sleep ends early; endAll ends the rest and every later sleep at once', async () => {
    const sleeps = new Sleeps();
    const wakers = new Set<() => void>();
    let woken = false;
    let ended = false;
    const first = sleeps.sleep(60_000, wakers).then(() => (woken = true));
    const second = sleeps.sleep(60_000).then(() => (ended = true));
    for (const wake of wakers) wake();
    await first;
    expect([woken, ended]).toEqual([true, false]);
    sleeps.endAll();
    await second;
    await sleeps.sleep(60_000);
    expect(ended).toBe(true);
  });
});
