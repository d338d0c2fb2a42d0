import { childPath } from './deep-json';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
// Keys are echoed in the path; a longer one is cut (the path only has to point at the place).
const MAX_PATH_KEY = 256;

type Frame =
  { array: true; index: number } | { array: false; expectKey: boolean; keyStart: number; keyEnd: number };

/** Index of the quote that closes the string opened at `start`, or -1. Linear: each `\` is counted once. */
function closingQuote(text: string, start: number): number {
  let at = start;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return -1;
    let backslashes = 0;
    for (let k = at - 1; text.charCodeAt(k) === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

function keyOf(text: string, frame: Frame & { array: false }): string {
  const raw = text.slice(frame.keyStart, frame.keyEnd);
  let key: string;
  try {
    key = JSON.parse(raw) as string;
  } catch {
    key = raw.slice(1, -1); // a broken escape: JSON.parse will refuse the body anyway
  }
  return key.length > MAX_PATH_KEY ? key.slice(0, MAX_PATH_KEY) : key;
}

function pathOf(text: string, stack: readonly Frame[], root: string): string {
  let path = root;
  for (const frame of stack) {
    path = childPath(path, frame.array ? frame.index : keyOf(text, frame));
  }
  return path;
}

/**
 * Finds the first array or object of a JSON text nested deeper than `maxDepth` (`{}` is depth 1, as in
 * findDeepJsonViolation) and returns its path (`inputs[0].a`, from `root`), or null. It does not parse: one
 * pass over the text with an explicit stack, strings skipped with `indexOf`, so it costs a few milliseconds
 * per MiB whatever the nesting. It runs before JSON.parse, which is iterative but spends about a microsecond
 * per nesting level (0.6 s on a 1 MiB body of `[`), and before class-transformer, which recurses and
 * overflows the stack at a few thousand levels. The text is not validated here: a broken text is left to
 * JSON.parse, unless it is too deep before it breaks.
 */
export function findTooDeepJson(text: string, maxDepth: number, root = ''): string | null {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = closingQuote(text, i);
      if (end < 0) return null;
      const top = stack[stack.length - 1];
      if (top && !top.array && top.expectKey) {
        top.expectKey = false;
        top.keyStart = i;
        top.keyEnd = end + 1;
      }
      i = end;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (stack.length >= maxDepth) return pathOf(text, stack, root);
      stack.push(
        c === OPEN_ARRAY
          ? { array: true, index: 0 }
          : { array: false, expectKey: true, keyStart: -1, keyEnd: -1 },
      );
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      stack.pop();
    } else if (c === COMMA) {
      const top = stack[stack.length - 1];
      if (top?.array) top.index++;
      else if (top) top.expectKey = true;
    }
  }
  return null;
}
