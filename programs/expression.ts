// Built-in program `expression`: evaluates an arithmetic expression exactly.
// Input {program?, expression: string of 1..1000 characters}.
// Grammar: decimal literals (`12`, `3.25`, `.5`; no exponents), binary + − * / with the usual precedence
// (left-associative), unary + and −, parentheses, whitespace; × ÷ − are accepted for * / -.
// Arithmetic is on exact rationals. Output {result, decimal, exact, fraction}:
//   decimal  the value in decimal, exact when it terminates, else rounded to 30 fractional digits;
//   exact    whether `decimal` is the exact value;  fraction  the exact value as "n" or "n/d";
//   result   `decimal` as a JSON number (null when its integer part has more than 300 digits, or when it is
//            not zero and has more than 300 zeros after the point: either would not read back as it is).
// An expression without a value is still an answer (exit 0): {error: "syntax_error" | "division_by_zero" |
// "number_too_large", message, position}. Input that breaks the contract (not a JSON object, unknown field,
// missing or over-long expression) is {error: "invalid_input", message} with exit code 2.
import { errorJson, inputProblem, KIND_STRING, parseInput, quote } from "./lib/json";
import { exit, readStdin, writeStdout } from "./lib/io";
import {
  add,
  decimalText,
  fractionText,
  fromDecimal,
  isZeroValue,
  multiply,
  negate,
  quotient,
  Rational,
  subtract,
} from "./lib/rational";

const MAX_LENGTH: i32 = 1000;
const MAX_DEPTH: i32 = 200;
/** Far beyond what 1000 characters can build with + − * /; a guard, not a limit anyone should meet. */
const MAX_BITS: i32 = 65_536;
const MAX_RESULT_DIGITS: i32 = 300;

class Evaluator {
  private i: i32 = 0;
  private depth: i32 = 0;
  errorCode: string = "";
  errorMessage: string = "";
  errorAt: i32 = 0;

  constructor(private s: string) {}

  run(): Rational | null {
    this.space();
    if (this.i >= this.s.length) return this.fail("syntax_error", "the expression is empty", 0);
    const value = this.sum();
    if (value === null) return null;
    if (this.i < this.s.length) return this.fail("syntax_error", this.unexpected(), this.i);
    return value;
  }

  private fail(code: string, message: string, at: i32): Rational | null {
    if (this.errorCode.length == 0) {
      this.errorCode = code;
      this.errorMessage = message;
      this.errorAt = at;
    }
    return null;
  }

  private unexpected(): string {
    if (this.i >= this.s.length) return "unexpected end of the expression";
    // A whole code point: half of a surrogate pair would be quoted as replacement characters.
    const point = String.fromCodePoint(this.s.codePointAt(this.i));
    return "unexpected " + quote(point) + " at position " + this.i.toString();
  }

  private space(): void {
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.i++;
    }
  }

  /** The operator at the cursor, folded to ASCII (+ - * /), or 0. */
  private operator(): i32 {
    if (this.i >= this.s.length) return 0;
    const c = this.s.charCodeAt(this.i);
    if (c == 0x2b || c == 0x2d || c == 0x2a || c == 0x2f) return c;
    if (c == 0x2212) return 0x2d; // − minus sign
    if (c == 0xd7) return 0x2a; // × multiplication sign
    if (c == 0xf7) return 0x2f; // ÷ division sign
    return 0;
  }

  private checked(value: Rational, at: i32): Rational | null {
    if (value.bits > MAX_BITS) return this.fail("number_too_large", "an intermediate value is too large", at);
    return value;
  }

  private sum(): Rational | null {
    let left = this.product();
    while (left !== null) {
      this.space();
      const op = this.operator();
      if (op != 0x2b && op != 0x2d) break;
      const at = this.i++;
      const right = this.product();
      if (right === null) return null;
      left = this.checked(op == 0x2b ? add(left, right) : subtract(left, right), at);
    }
    return left;
  }

  private product(): Rational | null {
    let left = this.unary();
    while (left !== null) {
      this.space();
      const op = this.operator();
      if (op != 0x2a && op != 0x2f) break;
      const at = this.i++;
      const right = this.unary();
      if (right === null) return null;
      if (op == 0x2f && isZeroValue(right)) {
        return this.fail("division_by_zero", "division by zero at position " + at.toString(), at);
      }
      left = this.checked(op == 0x2a ? multiply(left, right) : quotient(left, right), at);
    }
    return left;
  }

  private unary(): Rational | null {
    this.space();
    const op = this.operator();
    if (op != 0x2b && op != 0x2d) return this.primary();
    if (++this.depth > MAX_DEPTH) return this.fail("syntax_error", "the expression is nested too deeply", this.i);
    this.i++;
    const value = this.unary();
    this.depth--;
    if (value === null) return null;
    return op == 0x2d ? negate(value) : value;
  }

  private primary(): Rational | null {
    this.space();
    if (this.i >= this.s.length) return this.fail("syntax_error", this.unexpected(), this.i);
    const c = this.s.charCodeAt(this.i);
    if (c == 0x28) {
      const open = this.i++;
      if (++this.depth > MAX_DEPTH) return this.fail("syntax_error", "the expression is nested too deeply", open);
      const value = this.sum();
      this.depth--;
      if (value === null) return null;
      this.space();
      if (this.i >= this.s.length || this.s.charCodeAt(this.i) != 0x29) {
        return this.fail(
          "syntax_error",
          "the parenthesis at position " + open.toString() + " is not closed",
          this.i,
        );
      }
      this.i++;
      return value;
    }
    if ((c >= 0x30 && c <= 0x39) || c == 0x2e) return this.number();
    return this.fail("syntax_error", this.unexpected(), this.i);
  }

  private digits(): string {
    const start = this.i;
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c < 0x30 || c > 0x39) break;
      this.i++;
    }
    return this.s.substring(start, this.i);
  }

  private number(): Rational | null {
    const start = this.i;
    const whole = this.digits();
    let fraction = "";
    if (this.i < this.s.length && this.s.charCodeAt(this.i) == 0x2e) {
      this.i++;
      fraction = this.digits();
    }
    if (whole.length == 0 && fraction.length == 0) {
      return this.fail("syntax_error", "a number has no digits at position " + start.toString(), start);
    }
    if (this.i < this.s.length) {
      const next = this.s.charCodeAt(this.i);
      if (next == 0x2e || (next | 0x20) == 0x65) {
        return this.fail("syntax_error", this.unexpected(), this.i);
      }
    }
    return fromDecimal(whole, fraction);
  }
}

function invalid(message: string): void {
  writeStdout(errorJson("invalid_input", message));
  exit(2);
}

/** A non-zero value with more than MAX_RESULT_DIGITS zeros after the point: a JSON number reader reads 0. */
function vanishes(text: string): bool {
  let i = text.charCodeAt(0) == 45 ? 1 : 0; // "-"
  if (text.charCodeAt(i) != 48 || text.charCodeAt(i + 1) != 46) return false; // "0."
  i += 2;
  let zeros = 0;
  while (i < text.length && text.charCodeAt(i) == 48) {
    zeros++;
    i++;
  }
  return i < text.length && zeros > MAX_RESULT_DIGITS;
}

export function _main(): void {
  const root = parseInput(readStdin(), "expression", ["program", "expression"]);
  if (root === null) return invalid(inputProblem);
  const field = root.get("expression");
  if (field === null || field.kind != KIND_STRING) return invalid("expression must be a string");
  const expression = field.text;
  if (expression.length > MAX_LENGTH) return invalid("expression must be at most 1000 characters");
  const evaluator = new Evaluator(expression);
  const value = evaluator.run();
  if (value === null) {
    writeStdout(
      '{"error":' + quote(evaluator.errorCode) +
        ',"message":' + quote(evaluator.errorMessage) +
        ',"position":' + evaluator.errorAt.toString() + "}",
    );
    return exit(0);
  }
  const decimal = decimalText(value);
  const readable = decimal.integerDigits <= MAX_RESULT_DIGITS && !vanishes(decimal.text);
  const result = readable ? decimal.text : "null";
  writeStdout(
    '{"result":' + result +
      ',"decimal":' + quote(decimal.text) +
      ',"exact":' + (decimal.exact ? "true" : "false") +
      ',"fraction":' + quote(fractionText(value)) + "}",
  );
  exit(0);
}

_main();
