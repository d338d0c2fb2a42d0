// Exact rational numbers over `Natural`: sign, numerator, denominator, always in lowest terms with a
// positive denominator (zero is +0/1), so equal values have one representation and one rendering.
import {
  add as addN,
  bitLength,
  compare,
  divide,
  divSmall,
  fromU32,
  gcd,
  isOne,
  isZero,
  mul as mulN,
  mulSmallAdd,
  Natural,
  pow10,
  remainder,
  shiftLeft,
  shiftRight,
  smallRemainder,
  sub as subN,
  toDecimal,
  trailingZeroBits,
} from "./natural";

/** Fractional digits of a quotient that does not terminate (rounded to nearest; a tie cannot occur). */
export const INEXACT_DIGITS: i32 = 30;

export class Rational {
  constructor(public negative: bool, public num: Natural, public den: Natural) {}

  /** Bits of the larger of numerator and denominator: what guards against runaway sizes. */
  get bits(): i32 {
    return max(bitLength(this.num), bitLength(this.den));
  }
}

function normalized(negative: bool, num: Natural, den: Natural): Rational {
  if (isZero(num)) return new Rational(false, [], fromU32(1));
  if (!isOne(den)) {
    const g = gcd(num, den);
    if (!isOne(g)) {
      num = divide(num, g);
      den = divide(den, g);
    }
  }
  return new Rational(negative, num, den);
}

/** The value of a decimal literal: `whole` and `fraction` are digit strings (either may be empty). */
export function fromDecimal(whole: string, fraction: string): Rational {
  const digits = whole + fraction;
  let num: Natural = [];
  for (let i = 0; i < digits.length; i++) num = mulSmallAdd(num, 10, <u32>(digits.charCodeAt(i) - 0x30));
  return normalized(false, num, pow10(fraction.length));
}

export function negate(a: Rational): Rational {
  return isZero(a.num) ? a : new Rational(!a.negative, a.num, a.den);
}

export function add(a: Rational, b: Rational): Rational {
  const bothWhole = isOne(a.den) && isOne(b.den);
  const left = bothWhole ? a.num : mulN(a.num, b.den);
  const right = bothWhole ? b.num : mulN(b.num, a.den);
  const den = bothWhole ? a.den : mulN(a.den, b.den);
  if (a.negative == b.negative) return normalized(a.negative, addN(left, right), den);
  const order = compare(left, right);
  if (order == 0) return normalized(false, [], den);
  return order > 0
    ? normalized(a.negative, subN(left, right), den)
    : normalized(b.negative, subN(right, left), den);
}

export function subtract(a: Rational, b: Rational): Rational {
  return add(a, negate(b));
}

export function multiply(a: Rational, b: Rational): Rational {
  return normalized(a.negative != b.negative, mulN(a.num, b.num), mulN(a.den, b.den));
}

/** a / b; the caller checks that b is not zero. */
export function quotient(a: Rational, b: Rational): Rational {
  return normalized(a.negative != b.negative, mulN(a.num, b.den), mulN(a.den, b.num));
}

export function isZeroValue(a: Rational): bool {
  return isZero(a.num);
}

/** "n" or "n/d", with a leading "-" when negative. */
export function fractionText(a: Rational): string {
  const sign = a.negative ? "-" : "";
  return isOne(a.den) ? sign + toDecimal(a.num) : sign + toDecimal(a.num) + "/" + toDecimal(a.den);
}

/** A rendering in decimal: exact when the denominator has no prime factor but 2 and 5. */
export class DecimalText {
  constructor(public text: string, public exact: bool, public integerDigits: i32) {}
}

function withPoint(digits: string, scale: i32, negative: bool): DecimalText {
  if (digits.length <= scale) digits = "0".repeat(scale - digits.length + 1) + digits;
  let whole = digits.substring(0, digits.length - scale);
  let fraction = digits.substring(digits.length - scale);
  let end = fraction.length;
  while (end > 0 && fraction.charCodeAt(end - 1) == 0x30) end--;
  fraction = fraction.substring(0, end);
  const isZeroText = whole == "0" && fraction.length == 0;
  // Never "-0": a value that rounds to zero is written without a sign.
  const sign = negative && !isZeroText ? "-" : "";
  const text = fraction.length > 0 ? sign + whole + "." + fraction : sign + whole;
  return new DecimalText(text, true, whole.length);
}

export function decimalText(a: Rational): DecimalText {
  const twos = trailingZeroBits(a.den);
  let odd = shiftRight(a.den, twos);
  let fives = 0;
  while (!isOne(odd)) {
    const q = divSmall(odd, 5);
    if (smallRemainder != 0) break;
    odd = q;
    fives++;
  }
  if (isOne(odd)) {
    // num/(2^twos · 5^fives) = num · 2^(k−twos) · 5^(k−fives) / 10^k.
    const scale = max(twos, fives);
    let scaled = shiftLeft(a.num, scale - twos);
    for (let i = 0; i < scale - fives; i++) scaled = mulSmallAdd(scaled, 5, 0);
    return withPoint(toDecimal(scaled), scale, a.negative);
  }
  let q = divide(mulN(a.num, pow10(INEXACT_DIGITS)), a.den);
  // Round to nearest: 2·remainder ≥ den rounds up (equality is impossible, see INEXACT_DIGITS).
  if (compare(shiftLeft(remainder, 1), a.den) >= 0) q = addN(q, fromU32(1));
  const rendered = withPoint(toDecimal(q), INEXACT_DIGITS, a.negative);
  return new DecimalText(rendered.text, false, rendered.integerDigits);
}
