/**
 * Fakes `Date` alone (timers, ticks and microtasks stay real), for code that reads Date.now() and has no
 * injectable clock: the test moves time with `advanceDate` instead of sleeping. Undo with jest.useRealTimers().
 */
export function fakeDate(at = '2026-03-01T12:00:00.000Z'): void {
  jest.useFakeTimers({
    now: new Date(at),
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
}

export function advanceDate(ms: number): void {
  jest.setSystemTime(Date.now() + ms);
}
