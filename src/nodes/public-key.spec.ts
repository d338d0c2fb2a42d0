import { generateKeyPairSync } from 'node:crypto';
import { normalizeEd25519PublicKey, WEAK_PUBLIC_KEY } from './public-key';

describe('normalizeEd25519PublicKey', () => {
  const { publicKey } = generateKeyPairSync('ed25519');
  const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');

  it('accepts base64 of the 32 raw bytes and an SPKI PEM, both as the raw base64', () => {
    expect(normalizeEd25519PublicKey(raw)).toBe(raw);
    expect(normalizeEd25519PublicKey(pem)).toBe(raw);
  });

  it('refuses other lengths, other algorithms and garbage', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(normalizeEd25519PublicKey(rsa.export({ format: 'pem', type: 'spki' }).toString())).toBeNull();
    expect(normalizeEd25519PublicKey(Buffer.alloc(31).toString('base64'))).toBeNull();
    expect(normalizeEd25519PublicKey(Buffer.alloc(33).toString('base64'))).toBeNull();
    expect(
      normalizeEd25519PublicKey('-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----'),
    ).toBeNull();
    expect(normalizeEd25519PublicKey('not base64 at all')).toBeNull();
    // The identity point, a key every signature R = identity, S = 0 verifies with: refused as weak.
    expect(normalizeEd25519PublicKey(`AQ${'A'.repeat(41)}=`)).toBe(WEAK_PUBLIC_KEY);
  });
});
