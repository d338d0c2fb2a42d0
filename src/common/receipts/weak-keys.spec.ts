import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { verifyEd25519 } from './receipt';
import { isWeakEd25519PublicKey } from './weak-keys';

const P = 2n ** 255n - 19n;
const mod = (a: bigint) => ((a % P) + P) % P;
const pow = (base: bigint, exp: bigint) => {
  let [result, b, e] = [1n, mod(base), exp];
  for (; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) result = (result * b) % P;
  return result;
};
const D = mod(-121665n * pow(121666n, P - 2n));

/** x of the point with this y (RFC 8032 §5.1.3), or null when there is none. */
function xOf(y: bigint): bigint | null {
  const [u, v] = [mod(y * y - 1n), mod(D * y * y + 1n)];
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  if (mod(v * x * x - u) !== 0n) x = mod(x * pow(2n, (P - 1n) / 4n));
  return mod(v * x * x - u) === 0n ? x : null;
}

/** The order of (x, y) if it is at most 8, else null (Edwards addition, straight from the curve's formula). */
function smallOrder(x: bigint, y: bigint): number | null {
  const add = ([x1, y1]: bigint[], [x2, y2]: bigint[]) => {
    const t = mod(D * x1 * x2 * y1 * y2);
    return [
      mod((x1 * y2 + x2 * y1) * pow(1n + t, P - 2n)),
      mod((y1 * y2 + x1 * x2) * pow(mod(1n - t), P - 2n)),
    ];
  };
  let q = [x, y];
  for (let n = 1; n <= 8; n++, q = add(q, [x, y])) if (q[0] === 0n && q[1] === 1n) return n;
  return null;
}

const encode = (y: bigint, signBit: boolean) => {
  const bytes = Buffer.alloc(32);
  for (let i = 0, v = y; i < 32; i++, v >>= 8n) bytes[i] = Number(v & 0xffn);
  if (signBit) bytes[31] |= 0x80;
  return bytes;
};

describe('isWeakEd25519PublicKey', () => {
  it('finds every point of small order weak, with either sign of x: the list is checked against the curve', () => {
    const candidates = [
      0n,
      1n,
      P - 1n,
      2707385501144840649318225287225658788936804267575313519463743609750303402022n,
    ];
    candidates.push(P - candidates[3]);
    const orders = candidates.map((y) => smallOrder(xOf(y)!, y));
    expect(orders).toEqual([4, 1, 2, 8, 8]);
    for (const y of candidates) {
      expect(isWeakEd25519PublicKey(encode(y, false))).toBe(true);
      expect(isWeakEd25519PublicKey(encode(y, true))).toBe(true);
    }
    // Encodings of y at or past the prime (y ≡ 0 and 1 among them), which RFC 8032 refuses.
    for (const y of [P, P + 1n, P + 18n]) expect(isWeakEd25519PublicKey(encode(y, false))).toBe(true);
  });

  it('finds generated keys sound (negative control)', () => {
    for (let i = 0; i < 100; i++) {
      const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
      expect(isWeakEd25519PublicKey(der.subarray(-32))).toBe(false);
    }
  });

  it('closes the forgery: with the identity as key, R = identity and S = 0 verify over anything in node:crypto', () => {
    const identity = encode(1n, false);
    const forged = Buffer.concat([encode(1n, false), Buffer.alloc(32)]);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), identity]);
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    // What the weak key allows in node:crypto itself (the threat), and what verifyEd25519 says.
    expect(verify(null, Buffer.from('any receipt at all'), key, forged)).toBe(true);
    expect(
      verifyEd25519(
        Buffer.from('any receipt at all'),
        forged.toString('base64'),
        identity.toString('base64'),
      ),
    ).toBe(false);
  });
});
