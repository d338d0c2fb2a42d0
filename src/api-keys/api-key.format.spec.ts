import { API_KEY_LENGTH, displayPrefix, generateApiKey, isWellFormedApiKey } from './api-key.format';

describe('API key format', () => {
  it('is vcp_ + 40 base62 + a 6-character checksum, and verifies', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^vcp_[0-9A-Za-z]{46}$/);
    expect(key).toHaveLength(API_KEY_LENGTH);
    expect(isWellFormedApiKey(key)).toBe(true);
    expect(displayPrefix(key)).toBe(key.slice(0, 12));
  });

  it('is unique and uses the whole alphabet evenly enough', () => {
    const keys = Array.from({ length: 2000 }, generateApiKey);
    expect(new Set(keys).size).toBe(keys.length);
    const counts = new Map<string, number>();
    for (const key of keys) for (const ch of key.slice(4, 44)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (2000 * 40) / 62;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.15);
  });

  it('rejects any single-character typo (the checksum catches it)', () => {
    const key = generateApiKey();
    for (let i = 4; i < key.length; i++) {
      const swapped = key[i] === 'a' ? 'b' : 'a';
      expect(isWellFormedApiKey(key.slice(0, i) + swapped + key.slice(i + 1))).toBe(false);
    }
  });

  it.each([
    ['empty', ''],
    ['wrong prefix', 'vcx_' + 'a'.repeat(46)],
    ['too short', 'vcp_' + 'a'.repeat(45)],
    ['too long', 'vcp_' + 'a'.repeat(47)],
    ['non-base62', 'vcp_' + 'a'.repeat(45) + '-'],
    ['a JWT', 'eyJhbGciOiJIUzI1NiJ9.e30.sig'],
  ])('rejects %s', (_case, candidate) => expect(isWellFormedApiKey(candidate)).toBe(false));
});
