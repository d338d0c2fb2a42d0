import { backoffMs, parseRetryAfter, retryWaitMs, Sleeps } from './pacing';

describe('backoffMs', () => {
  it('doubles per failure up to 30 s, within the cap given, times the jitter, never under 50 ms', () => {
    expect([1, 2, 3].map((failures) => backoffMs(failures, 1))).toEqual([500, 1000, 2000]);
    expect(backoffMs(40, 1)).toBe(30_000);
    expect(backoffMs(40, 1, 10_000)).toBe(10_000);
    expect(backoffMs(3, 0.5)).toBe(1000);
    expect(backoffMs(3, 0)).toBe(50);
  });
});

describe('retryWaitMs', () => {
  it('waits the Retry-After when it is longer than the backoff, spread over a quarter more by the jitter', () => {
    expect(retryWaitMs(1, 0, 4_000)).toBe(4_000);
    expect(retryWaitMs(1, 1, 4_000)).toBe(5_000);
    expect(retryWaitMs(1, 0.5, null)).toBe(backoffMs(1, 0.5));
    // A shorter Retry-After does not shorten the backoff.
    expect(retryWaitMs(6, 1, 1_000)).toBe(backoffMs(6, 1));
  });

  it('is bounded like the backoff: 30 s, and the cap while holding leases', () => {
    expect(retryWaitMs(1, 0, 3_600_000)).toBe(30_000);
    expect(retryWaitMs(1, 0, 20_000, 10_000)).toBe(10_000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-12-03T12:00:00Z');

  it('reads delta-seconds and HTTP dates (a past date is now)', () => {
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 03 Dec 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Thu, 03 Dec 2026 11:00:00 GMT', now)).toBe(0);
  });

  it('is null when absent or unreadable, so the backoff decides alone', () => {
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-3', now)).toBeNull();
    expect(parseRetryAfter('1.5', now)).toBeNull();
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
