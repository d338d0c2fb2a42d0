// Arbitrary-precision natural numbers for the expression program: little-endian arrays of 32-bit limbs,
// always normalized (no high zero limbs; zero is the empty array). Schoolbook algorithms: the inputs are
// bounded (an expression of at most 1000 characters), so simplicity beats asymptotics here.

export type Natural = u32[];

export function fromU32(value: u32): Natural {
  const n: Natural = [];
  if (value != 0) n.push(value);
  return n;
}

export function isZero(a: Natural): bool {
  return a.length == 0;
}

export function isOne(a: Natural): bool {
  return a.length == 1 && a[0] == 1;
}

function trim(a: Natural): Natural {
  while (a.length > 0 && a[a.length - 1] == 0) a.pop();
  return a;
}

export function compare(a: Natural, b: Natural): i32 {
  if (a.length != b.length) return a.length < b.length ? -1 : 1;
  for (let i = a.length - 1; i >= 0; i--) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

export function add(a: Natural, b: Natural): Natural {
  const n = max(a.length, b.length);
  const out: Natural = new Array<u32>(n + 1);
  let carry: u64 = 0;
  for (let i = 0; i < n; i++) {
    const sum = <u64>(i < a.length ? a[i] : 0) + <u64>(i < b.length ? b[i] : 0) + carry;
    out[i] = <u32>sum;
    carry = sum >> 32;
  }
  out[n] = <u32>carry;
  return trim(out);
}

/** a − b for a ≥ b. */
export function sub(a: Natural, b: Natural): Natural {
  const out: Natural = new Array<u32>(a.length);
  let borrow: i64 = 0;
  for (let i = 0; i < a.length; i++) {
    let d = <i64>a[i] - <i64>(i < b.length ? b[i] : 0) - borrow;
    borrow = 0;
    if (d < 0) {
      d += 0x100000000;
      borrow = 1;
    }
    out[i] = <u32>d;
  }
  return trim(out);
}

export function mul(a: Natural, b: Natural): Natural {
  if (a.length == 0 || b.length == 0) return [];
  const out: Natural = new Array<u32>(a.length + b.length);
  for (let i = 0; i < a.length; i++) {
    let carry: u64 = 0;
    const ai = <u64>a[i];
    for (let j = 0; j < b.length; j++) {
      const t = ai * <u64>b[j] + <u64>out[i + j] + carry;
      out[i + j] = <u32>t;
      carry = t >> 32;
    }
    out[i + b.length] = <u32>carry;
  }
  return trim(out);
}

/** a · m + c for small m and c. */
export function mulSmallAdd(a: Natural, m: u32, c: u32): Natural {
  const out: Natural = new Array<u32>(a.length + 1);
  let carry: u64 = <u64>c;
  for (let i = 0; i < a.length; i++) {
    const t = <u64>a[i] * <u64>m + carry;
    out[i] = <u32>t;
    carry = t >> 32;
  }
  out[a.length] = <u32>carry;
  return trim(out);
}

/** The remainder of the last `divSmall`. */
export let smallRemainder: u32 = 0;

/** ⌊a / d⌋ for 0 < d < 2^32; the remainder is left in `smallRemainder`. */
export function divSmall(a: Natural, d: u32): Natural {
  const out: Natural = new Array<u32>(a.length);
  let rem: u64 = 0;
  for (let i = a.length - 1; i >= 0; i--) {
    const cur = (rem << 32) | <u64>a[i];
    out[i] = <u32>(cur / <u64>d);
    rem = cur % <u64>d;
  }
  smallRemainder = <u32>rem;
  return trim(out);
}

export function bitLength(a: Natural): i32 {
  if (a.length == 0) return 0;
  return (a.length - 1) * 32 + (32 - <i32>clz<u32>(a[a.length - 1]));
}

export function shiftLeft(a: Natural, bits: i32): Natural {
  if (a.length == 0) return [];
  const limbs = bits >> 5;
  const rest = <u32>(bits & 31);
  const out: Natural = new Array<u32>(a.length + limbs + 1);
  for (let i = 0; i < a.length; i++) {
    const v = <u64>a[i] << rest;
    out[i + limbs] |= <u32>v;
    out[i + limbs + 1] |= <u32>(v >> 32);
  }
  return trim(out);
}

export function shiftRight(a: Natural, bits: i32): Natural {
  const limbs = bits >> 5;
  if (limbs >= a.length) return [];
  const rest = <u32>(bits & 31);
  const out: Natural = new Array<u32>(a.length - limbs);
  for (let i = 0; i < out.length; i++) {
    const lo = <u64>a[i + limbs];
    const hi = i + limbs + 1 < a.length ? <u64>a[i + limbs + 1] : 0;
    out[i] = <u32>(((hi << 32) | lo) >> rest);
  }
  return trim(out);
}

export function trailingZeroBits(a: Natural): i32 {
  for (let i = 0; i < a.length; i++) {
    if (a[i] != 0) return i * 32 + <i32>ctz<u32>(a[i]);
  }
  return 0;
}

/** The remainder of the last `divide`. */
export let remainder: Natural = [];

/** ⌊a / b⌋ for b ≠ 0 by binary long division; the remainder is left in `remainder`. */
export function divide(a: Natural, b: Natural): Natural {
  if (b.length == 1) {
    const q = divSmall(a, b[0]);
    remainder = fromU32(smallRemainder);
    return q;
  }
  if (compare(a, b) < 0) {
    remainder = a;
    return [];
  }
  const shift = bitLength(a) - bitLength(b);
  let r = a;
  let d = shiftLeft(b, shift);
  const q: Natural = new Array<u32>((shift >> 5) + 1);
  for (let i = shift; i >= 0; i--) {
    if (compare(r, d) >= 0) {
      r = sub(r, d);
      q[i >> 5] |= (<u32>1) << (<u32>(i & 31));
    }
    d = shiftRight(d, 1);
  }
  remainder = r;
  return trim(q);
}

/** Greatest common divisor by Stein's binary algorithm (shifts and subtractions only). */
export function gcd(a: Natural, b: Natural): Natural {
  if (a.length == 0) return b;
  if (b.length == 0) return a;
  const za = trailingZeroBits(a);
  const zb = trailingZeroBits(b);
  const common = min(za, zb);
  let u = shiftRight(a, za);
  let v = shiftRight(b, zb);
  while (true) {
    const c = compare(u, v);
    if (c == 0) break;
    if (c > 0) {
      u = sub(u, v);
      u = shiftRight(u, trailingZeroBits(u));
    } else {
      v = sub(v, u);
      v = shiftRight(v, trailingZeroBits(v));
    }
  }
  return shiftLeft(u, common);
}

/** Decimal digits of a (at least "0"). */
export function toDecimal(a: Natural): string {
  if (a.length == 0) return "0";
  const chunks: string[] = [];
  let rest = a;
  while (rest.length > 0) {
    rest = divSmall(rest, 1_000_000_000);
    chunks.push(smallRemainder.toString());
  }
  let out = chunks[chunks.length - 1];
  for (let i = chunks.length - 2; i >= 0; i--) out += chunks[i].padStart(9, "0");
  return out;
}

export function pow10(exponent: i32): Natural {
  let n = fromU32(1);
  for (let i = 0; i < exponent; i++) n = mulSmallAdd(n, 10, 0);
  return n;
}
