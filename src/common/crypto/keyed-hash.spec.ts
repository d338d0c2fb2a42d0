import { constantTimeEquals, keyedHash, randomToken } from './keyed-hash';

describe('keyedHash', () => {
  it('is a deterministic 64-hex digest for the same input and pepper', () => {
    const sut = keyedHash('rt_abc', 'pepper-1');
    expect(sut).toMatch(/^[0-9a-f]{64}$/);
    expect(keyedHash('rt_abc', 'pepper-1')).toBe(sut);
  });

  it('changes with the pepper and with the input', () => {
    expect(keyedHash('rt_abc', 'pepper-2')).not.toBe(keyedHash('rt_abc', 'pepper-1'));
    expect(keyedHash('rt_abd', 'pepper-1')).not.toBe(keyedHash('rt_abc', 'pepper-1'));
  });

  it('gives each of many peppers its own digest (the cached pepper keys are bounded and never mixed up)', () => {
    const peppers = Array.from({ length: 40 }, (_, i) => `pepper-${i}`);
    const first = peppers.map((pepper) => keyedHash('rt_abc', pepper));
    expect(new Set(first).size).toBe(peppers.length);
    // A second pass, after the cache was cleared and refilled, gives the same digests.
    expect(peppers.map((pepper) => keyedHash('rt_abc', pepper))).toEqual(first);
  });

  it('matches the HMAC-SHA256 test vector of RFC 4231 (case 2)', () => {
    expect(keyedHash('what do ya want for nothing?', 'Jefe')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });
});

describe('randomToken', () => {
  it('has the prefix and at least 256 bits of randomness', () => {
    const token = randomToken('rt_');
    expect(token).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);
    expect(new Set(Array.from({ length: 1000 }, () => randomToken('rt_'))).size).toBe(1000);
  });
});

describe('constantTimeEquals', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abd', false],
    ['abc', 'abcd', false],
    ['', '', true],
  ])('%s vs %s → %s', (a, b, expected) => expect(constantTimeEquals(a, b)).toBe(expected));
});
