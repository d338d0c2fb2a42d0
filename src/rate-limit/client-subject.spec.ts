import { clientSubject, SubjectMemo } from './client-subject';

describe('clientSubject', () => {
  const cases: [string | undefined, string][] = [
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8:1:3::1', '2001:db8:1:3::/64'],
    ['::1', '::/64'],
    ['not an address', 'unknown'],
    ['', 'unknown'],
    [undefined, 'unknown'],
  ];

  it.each(cases)('%p counts as %p, the first time and every time after', (address, subject) => {
    expect(clientSubject(address)).toBe(subject);
    expect(clientSubject(address)).toBe(subject);
  });
});

describe('SubjectMemo', () => {
  it('stays within its bound however many addresses it sees, and answers each correctly', () => {
    const memo = new SubjectMemo(100);
    for (let i = 1; i <= 1000; i++) {
      const address = `2001:db8:${i.toString(16)}::${(i % 7).toString(16)}`;
      expect(memo.subjectOf(address)).toBe(`2001:db8:${i.toString(16)}::/64`);
      expect(memo.size).toBeLessThanOrEqual(100);
    }
    // An address forgotten is parsed again, to the same subject.
    expect(memo.remembers('2001:db8:1::1')).toBe(false);
    expect(memo.subjectOf('2001:db8:1::1')).toBe('2001:db8:1::/64');
    expect(memo.subjectOf('192.0.2.1')).toBe('192.0.2.1');
  });

  it('keeps the address of a client that keeps coming while another cycles through addresses', () => {
    const memo = new SubjectMemo(100);
    expect(memo.subjectOf('192.0.2.10')).toBe('192.0.2.10');
    for (let i = 1; i <= 1000; i++) {
      memo.subjectOf(`2001:db8:${i.toString(16)}::1`);
      // A memo emptied when full would have dropped it here, once per hundred new addresses.
      expect(memo.remembers('192.0.2.10')).toBe(true);
      expect(memo.subjectOf('192.0.2.10')).toBe('192.0.2.10');
    }
    expect(memo.remembers('2001:db8:1::1')).toBe(false);
  });

  it('keeps no text longer than an address could be (an X-Forwarded-For a client filled), and still answers it', () => {
    const memo = new SubjectMemo(100);
    expect(memo.subjectOf('x'.repeat(8000))).toBe('unknown');
    expect(memo.subjectOf(`2001:db8::1${' '.repeat(100)}`)).toBe('unknown');
    expect(memo.size).toBe(0);
    // Negative control: the longest real form, an IPv4-tailed IPv6 address, is kept.
    const longest = '0000:0000:0000:0000:0000:ffff:192.168.100.200';
    expect(memo.subjectOf(longest)).toBe('192.168.100.200');
    expect(memo.size).toBe(1);
  });
});
