import { SlotUsage } from './slot-usage';

describe('SlotUsage', () => {
  let clock = 0;
  const usage = (slots: number) => new SlotUsage(slots, () => clock);
  beforeEach(() => (clock = 1_000));

  it('is the share of slot-time in which runs held a slot since the last report', () => {
    const sut = usage(2);
    sut.begin('a');
    clock += 300;
    sut.end('a'); // 300 ms of one slot
    sut.begin('b');
    clock += 700; // b still executing: 700 ms counted so far
    expect(sut.take()).toBeCloseTo((300 + 700) / (2 * 1000));
  });

  it('starts a new interval at each report, carrying a run that is still executing', () => {
    const sut = usage(1);
    sut.begin('a');
    clock += 500;
    expect(sut.take()).toBe(1);
    clock += 250;
    sut.end('a');
    clock += 250;
    expect(sut.take()).toBeCloseTo(0.5); // only the 250 ms since the last report
    clock += 1_000;
    expect(sut.take()).toBe(0);
  });

  it('ignores the end of a run it never saw begin, and says 0 for an empty interval', () => {
    const sut = usage(1);
    sut.end('unknown');
    expect(sut.take()).toBe(0);
    expect(sut.take()).toBe(0);
  });
});
