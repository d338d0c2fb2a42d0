import { findDeepJsonViolation } from '../common/validation/deep-json';

/**
 * A run's stdout as the API returns it, and as a node agent reports a task's output (its output hash and the
 * quorum compare that value, so every node must read the same bytes the same way: this is a pure function of
 * them). Guest output is untrusted: it is returned parsed only when it is JSON within the deep-JSON limits
 * (JSON.parse itself does not recurse, but serialising a 500 000-deep value back to a client would) and
 * parsing changes none of its numbers; otherwise the text, as it came.
 */
export function parseStdout(bytes: Uint8Array): unknown {
  const text = Buffer.from(bytes).toString('utf8');
  const trimmed = text.trim();
  if (trimmed === '') return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed) as unknown;
  } catch {
    return text; // not JSON: returned as text, as the contract says
  }
  return findDeepJsonViolation(parsed) || !numbersSurviveParsing(trimmed) ? text : parsed;
}

const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;

/**
 * Whether every number in this (valid) JSON text comes back as the same number once parsed into doubles and
 * written out again: an integer written without fraction or exponent must be a safe integer (±(2^53−1)),
 * and any other number must keep its decimal value (not more digits than a double holds, no overflow to
 * infinity, no underflow to zero). `1.0`, `1e2` and `0.1` survive; `12345678901234567891` does not.
 */
export function numbersSurviveParsing(json: string): boolean {
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) {
      // A string: numbers in it are text. Skip to its closing quote (a backslash escapes the next character).
      for (i++; i < json.length && json.charCodeAt(i) !== 0x22; i++) if (json.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const literal = NUMBER.exec(json)?.[0];
      if (literal === undefined || !survives(literal)) return false;
      i += literal.length - 1;
    }
  }
  return true;
}

function survives(literal: string): boolean {
  const value = Number(literal);
  if (!Number.isFinite(value)) return false;
  if (/^-?\d+$/.test(literal)) return Number.isSafeInteger(value);
  return canonical(literal) === canonical(String(value));
}

/** A decimal literal as sign, significant digits and exponent, so equal values compare equal as strings. */
function canonical(literal: string): string {
  const [, sign, whole, fraction = '', exponent = '0'] = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(
    literal,
  )!;
  const digits = (whole + fraction).replace(/^0+/, '');
  if (digits === '') return '0';
  const significant = digits.replace(/0+$/, '');
  const scale = BigInt(exponent) - BigInt(fraction.length) + BigInt(digits.length - significant.length);
  return `${sign}${significant}e${scale}`;
}
