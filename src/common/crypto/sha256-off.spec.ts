import { createHash, randomBytes } from 'node:crypto';
import { sha256Off } from './sha256-off';

describe('sha256Off', () => {
  it('is the SHA-256 hex of the bytes, as createHash gives it (empty, small, a view into a larger buffer)', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 7);
    for (const bytes of [new Uint8Array(0), Buffer.from('abc'), big, big.subarray(5, 1000)]) {
      expect(await sha256Off(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });
});
