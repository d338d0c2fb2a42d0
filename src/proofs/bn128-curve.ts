import { BN128_Q } from './proof-system';

// Arithmetic on bn128 (alt_bn128, BN254) in plain BigInt, for checking points of uploaded verification keys.
// G1: y² = x³ + 3 over F_q. G2 (the sextic twist): y² = x³ + 3/(9 + u) over F_q² = F_q[u]/(u² + 1).

const mod = (a: bigint): bigint => {
  const r = a % BN128_Q;
  return r < 0n ? r + BN128_Q : r;
};

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = mod(result * b);
    b = mod(b * b);
  }
  return result;
}

type Fq2 = readonly [bigint, bigint];

const mul2 = ([a0, a1]: Fq2, [b0, b1]: Fq2): Fq2 => [mod(a0 * b0 - a1 * b1), mod(a0 * b1 + a1 * b0)];
const add2 = ([a0, a1]: Fq2, [b0, b1]: Fq2): Fq2 => [mod(a0 + b0), mod(a1 + b1)];

// 3 / (9 + u) = 3 (9 − u) / (9² + 1²): the inverse of a + bu is (a − bu) / (a² + b²).
const INV_82 = power(82n, BN128_Q - 2n);
const TWIST_B: Fq2 = [mod(27n * INV_82), mod(-3n * INV_82)];

/** True when (x, y) satisfies the G1 equation. G1 has cofactor 1: every such point is in the group. */
export function isOnG1Curve(x: bigint, y: bigint): boolean {
  return mod(y * y) === mod(x * x * x + 3n);
}

/**
 * True when (x, y) satisfies the twist's equation. This refuses arbitrary and corrupted coordinates; it does not
 * prove membership in the order-r subgroup (the twist has a large cofactor), which snarkjs's pairing assumes.
 */
export function isOnG2Curve(x: Fq2, y: Fq2): boolean {
  const left = mul2(y, y);
  const right = add2(mul2(mul2(x, x), x), TWIST_B);
  return left[0] === right[0] && left[1] === right[1];
}
