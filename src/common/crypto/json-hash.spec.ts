import { createHash } from 'node:crypto';
import { jsonSha256Hex } from './json-hash';

const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('jsonSha256Hex (RFC 8785)', () => {
  it('hashes the canonical form: sorted keys, no whitespace, ES number spelling', () => {
    expect(jsonSha256Hex({ b: [1, 2.5, 1e21], a: 'x' })).toBe(sha('{"a":"x","b":[1,2.5,1e+21]}'));
    expect(jsonSha256Hex({ a: 'x', b: [1, 2.5, 1e21] })).toBe(jsonSha256Hex({ b: [1, 2.5, 1e21], a: 'x' }));
  });

  it('tells different values apart and hashes a missing value as null', () => {
    expect(jsonSha256Hex({ a: 1 })).not.toBe(jsonSha256Hex({ a: '1' }));
    expect(jsonSha256Hex(undefined)).toBe(sha('null'));
  });

  it('hashes the UTF-8 bytes, to the published digests', () => {
    expect(jsonSha256Hex(null)).toBe('74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b');
    expect(jsonSha256Hex({ s: 'é€😀' })).toBe(sha('{"s":"é€😀"}'));
    expect(jsonSha256Hex({ s: 'é€😀' })).not.toBe(
      createHash('sha256').update('{"s":"é€😀"}', 'latin1').digest('hex'),
    );
  });
});
