// A small strict JSON reader (RFC 8259) and writer helpers. The programs take one JSON object on stdin; the
// server checked it against the program's schema, but the module is also runnable directly, so every path
// here ends in a clean error instead of a trap.

export const KIND_NULL: i32 = 0;
export const KIND_BOOL: i32 = 1;
export const KIND_NUMBER: i32 = 2;
export const KIND_STRING: i32 = 3;
export const KIND_ARRAY: i32 = 4;
export const KIND_OBJECT: i32 = 5;

const MAX_DEPTH: i32 = 64;

export class JsonValue {
  kind: i32;
  bool: bool = false;
  /** A number's literal text, so integers are read exactly (never through a double). */
  text: string = "";
  items: JsonValue[] = [];
  keys: string[] = [];

  constructor(kind: i32) {
    this.kind = kind;
  }

  /** An object member (the last one when a key repeats), or null. */
  get(key: string): JsonValue | null {
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] == key) return this.items[i];
    }
    return null;
  }
}

/** A growable UTF-16 buffer: building strings by concatenation would copy the whole text per character. */
export class CharBuffer {
  private units: Uint16Array = new Uint16Array(64);
  length: i32 = 0;

  push(unit: i32): void {
    if (this.length == this.units.length) {
      const bigger = new Uint16Array(this.units.length * 2);
      bigger.set(this.units);
      this.units = bigger;
    }
    this.units[this.length++] = <u16>unit;
  }

  toString(): string {
    return String.UTF16.decodeUnsafe(this.units.dataStart, <usize>this.length << 1);
  }
}

export class JsonParser {
  private i: i32 = 0;
  private depth: i32 = 0;
  /** Why parsing failed; empty while it has not. */
  error: string = "";

  constructor(private s: string) {}

  parse(): JsonValue | null {
    const value = this.value();
    if (value === null) return null;
    this.space();
    if (this.i < this.s.length) return this.fail("unexpected text after the JSON value");
    return value;
  }

  private fail(message: string): JsonValue | null {
    if (this.error.length == 0) this.error = message + " at offset " + this.i.toString();
    return null;
  }

  private space(): void {
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.i++;
    }
  }

  private literal(word: string): bool {
    if (this.s.substr(this.i, word.length) != word) return false;
    this.i += word.length;
    return true;
  }

  private value(): JsonValue | null {
    this.space();
    if (this.i >= this.s.length) return this.fail("unexpected end of input");
    const c = this.s.charCodeAt(this.i);
    if (c == 0x7b) return this.object();
    if (c == 0x5b) return this.array();
    if (c == 0x22) {
      const text = this.string();
      if (text === null) return null;
      const v = new JsonValue(KIND_STRING);
      v.text = text;
      return v;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal("true")) {
      const v = new JsonValue(KIND_BOOL);
      v.bool = true;
      return v;
    }
    if (this.literal("false")) return new JsonValue(KIND_BOOL);
    if (this.literal("null")) return new JsonValue(KIND_NULL);
    return this.fail("unexpected character");
  }

  private enter(): bool {
    this.depth++;
    return this.depth <= MAX_DEPTH;
  }

  private object(): JsonValue | null {
    if (!this.enter()) return this.fail("nesting too deep");
    this.i++;
    const v = new JsonValue(KIND_OBJECT);
    this.space();
    if (this.i < this.s.length && this.s.charCodeAt(this.i) == 0x7d) {
      this.i++;
      this.depth--;
      return v;
    }
    while (true) {
      this.space();
      if (this.i >= this.s.length || this.s.charCodeAt(this.i) != 0x22) return this.fail("expected a key");
      const key = this.string();
      if (key === null) return null;
      this.space();
      if (this.i >= this.s.length || this.s.charCodeAt(this.i) != 0x3a) return this.fail("expected ':'");
      this.i++;
      const item = this.value();
      if (item === null) return null;
      v.keys.push(key);
      v.items.push(item);
      this.space();
      if (this.i >= this.s.length) return this.fail("unexpected end of input");
      const c = this.s.charCodeAt(this.i++);
      if (c == 0x7d) break;
      if (c != 0x2c) return this.fail("expected ',' or '}'");
    }
    this.depth--;
    return v;
  }

  private array(): JsonValue | null {
    if (!this.enter()) return this.fail("nesting too deep");
    this.i++;
    const v = new JsonValue(KIND_ARRAY);
    this.space();
    if (this.i < this.s.length && this.s.charCodeAt(this.i) == 0x5d) {
      this.i++;
      this.depth--;
      return v;
    }
    while (true) {
      const item = this.value();
      if (item === null) return null;
      v.items.push(item);
      this.space();
      if (this.i >= this.s.length) return this.fail("unexpected end of input");
      const c = this.s.charCodeAt(this.i++);
      if (c == 0x5d) break;
      if (c != 0x2c) return this.fail("expected ',' or ']'");
    }
    this.depth--;
    return v;
  }

  private digits(): i32 {
    const start = this.i;
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c < 0x30 || c > 0x39) break;
      this.i++;
    }
    return this.i - start;
  }

  private number(): JsonValue | null {
    const start = this.i;
    if (this.s.charCodeAt(this.i) == 0x2d) this.i++;
    const first = this.i < this.s.length ? this.s.charCodeAt(this.i) : 0;
    const whole = this.digits();
    if (whole == 0 || (first == 0x30 && whole > 1)) return this.fail("invalid number");
    if (this.i < this.s.length && this.s.charCodeAt(this.i) == 0x2e) {
      this.i++;
      if (this.digits() == 0) return this.fail("invalid number");
    }
    if (this.i < this.s.length && (this.s.charCodeAt(this.i) | 0x20) == 0x65) {
      this.i++;
      if (this.i < this.s.length) {
        const sign = this.s.charCodeAt(this.i);
        if (sign == 0x2b || sign == 0x2d) this.i++;
      }
      if (this.digits() == 0) return this.fail("invalid number");
    }
    const v = new JsonValue(KIND_NUMBER);
    v.text = this.s.substring(start, this.i);
    return v;
  }

  private hex4(): i32 {
    if (this.i + 4 > this.s.length) return -1;
    let value: i32 = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.s.charCodeAt(this.i + k);
      let d: i32 = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x61 + 10;
      if (d < 0) return -1;
      value = (value << 4) | d;
    }
    this.i += 4;
    return value;
  }

  private string(): string | null {
    this.i++;
    const out = new CharBuffer();
    while (true) {
      if (this.i >= this.s.length) {
        this.fail("unterminated string");
        return null;
      }
      const c = this.s.charCodeAt(this.i++);
      if (c == 0x22) break;
      if (c < 0x20) {
        this.fail("control character in string");
        return null;
      }
      if (c != 0x5c) {
        out.push(c);
        continue;
      }
      if (this.i >= this.s.length) {
        this.fail("unterminated string");
        return null;
      }
      const e = this.s.charCodeAt(this.i++);
      if (e == 0x22 || e == 0x5c || e == 0x2f) out.push(e);
      else if (e == 0x62) out.push(0x08);
      else if (e == 0x66) out.push(0x0c);
      else if (e == 0x6e) out.push(0x0a);
      else if (e == 0x72) out.push(0x0d);
      else if (e == 0x74) out.push(0x09);
      else if (e == 0x75) {
        const unit = this.hex4();
        if (unit < 0) {
          this.fail("invalid \\u escape");
          return null;
        }
        out.push(unit);
      } else {
        this.fail("invalid escape");
        return null;
      }
    }
    return out.toString();
  }
}

const HEX = "0123456789abcdef";

/** A JSON string literal: quotes, backslashes and control characters escaped. */
export function quote(text: string): string {
  const out = new CharBuffer();
  out.push(0x22);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) {
      out.push(0x5c);
      out.push(c);
    } else if (c == 0x0a) {
      out.push(0x5c);
      out.push(0x6e);
    } else if (c < 0x20) {
      out.push(0x5c);
      out.push(0x75);
      out.push(0x30);
      out.push(0x30);
      out.push(HEX.charCodeAt(c >> 4));
      out.push(HEX.charCodeAt(c & 15));
    } else {
      out.push(c);
    }
  }
  out.push(0x22);
  return out.toString();
}

/**
 * A non-negative integer literal within [min, max] (max ≤ 2^53 − 1), or -1. Read digit by digit: "1e3",
 * "2.0" and "-1" are refused, so every node sees the same value.
 */
export function integerIn(value: JsonValue, min: i64, max: i64): i64 {
  if (value.kind != KIND_NUMBER) return -1;
  const text = value.text;
  if (text.length == 0 || text.length > 16) return -1;
  let n: i64 = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + <i64>(c - 0x30);
  }
  return n >= min && n <= max ? n : -1;
}

/** `{"error": code, "message": message}` on stdout, then the exit code. */
export function errorJson(code: string, message: string): string {
  return '{"error":' + quote(code) + ',"message":' + quote(message) + "}";
}

/** Why `readInput` returned null. */
export let inputProblem: string = "";

/**
 * The input object of a program: `text` parsed, an object with only `allowed` members, and its `program`
 * member (if any) naming this program; null (with `inputProblem` set) otherwise.
 */
export function parseInput(text: string, program: string, allowed: string[]): JsonValue | null {
  const parser = new JsonParser(text);
  const root = parser.parse();
  if (root === null) {
    inputProblem = "stdin is not JSON: " + parser.error;
    return null;
  }
  if (root.kind != KIND_OBJECT) {
    inputProblem = "stdin must be a JSON object";
    return null;
  }
  for (let i = 0; i < root.keys.length; i++) {
    if (!allowed.includes(root.keys[i])) {
      inputProblem = "unknown field " + quote(root.keys[i].slice(0, 64));
      return null;
    }
  }
  const name = root.get("program");
  if (name !== null && (name.kind != KIND_STRING || name.text != program)) {
    inputProblem = "program must be " + quote(program);
    return null;
  }
  return root;
}
