import { AuditRowBudget } from './audit-row-budget';

describe('AuditRowBudget', () => {
  it('lets perMinute rows through per subject, then counts the rest into the next minute’s first row', () => {
    let now = 0;
    const sut = new AuditRowBudget(2, () => now);
    expect([sut.take('a'), sut.take('a'), sut.take('a'), sut.take('a')]).toEqual([0, 0, null, null]);
    expect(sut.take('b')).toBe(0); // subjects are apart
    now = 60_000;
    expect([sut.take('a'), sut.take('a')]).toEqual([2, 0]);
  });

  it('forgets the least recently seen subject past maxSubjects instead of growing', () => {
    const sut = new AuditRowBudget(1, () => 0, 2);
    sut.take('a');
    sut.take('b');
    expect(sut.take('a')).toBeNull();
    sut.take('c'); // a third subject: b, the least recently seen, is forgotten
    expect(sut.take('a')).toBeNull(); // a flood of new subjects does not give a busy one a fresh budget
    expect(sut.take('b')).toBe(0);
  });
});
