import { RepeatedWarnings } from './repeated-warnings';

describe('RepeatedWarnings', () => {
  it('writes the first warning, then at most one per interval counting those left out; a recovery resets', () => {
    const lines: string[] = [];
    let now = 0;
    const sut = new RepeatedWarnings({ warn: (line) => lines.push(line) }, 60_000, () => now);
    sut.warn('redis: connect ECONNREFUSED');
    for (now = 1_000; now < 60_000; now += 1_000) sut.warn('redis: connect ECONNREFUSED');
    expect(lines).toEqual(['redis: connect ECONNREFUSED']);
    now = 60_000;
    sut.warn('redis: connect ECONNREFUSED');
    expect(lines[1]).toBe('redis: connect ECONNREFUSED (and 59 more like it since the last line)');
    sut.recovered();
    now = 61_000;
    sut.warn('redis: connection lost');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('redis: connection lost');
  });
});
