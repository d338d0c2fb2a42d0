// First: an unsupported Node gets a sentence, not a stack from the first dependency it cannot load.
import '../common/runtime/require-supported-node';
import { closeSync, openSync, readSync } from 'node:fs';
import { checkReceipt, type ReceiptCheck, shown } from './receipt-check';
import { isCanonicalBase64 } from '../common/receipts/receipt';

export const USAGE =
  'usage: npm run verify-receipt -- <receipt.json | -> [--public-key <base64>]\n' +
  '  <receipt.json>  the body of GET /api/v1/tasks/<task_id>/receipt ("-" reads standard input)\n' +
  '  --public-key    the server key you trust (public_key of GET /api/v1/receipts/public-key)';

/** Receipts are small (one entry per accepted run); anything this large is not one. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

class UsageError extends Error {}

export function parseArguments(argv: readonly string[]): { file: string; publicKey?: string } | 'help' {
  let file: string | undefined;
  let publicKey: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') return 'help';
    if (arg === '--public-key' || arg.startsWith('--public-key=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (value === undefined || !isCanonicalBase64(value.trim(), 32)) {
        throw new UsageError('--public-key must be standard base64 of a 32-byte Ed25519 key');
      }
      publicKey = value.trim();
    } else if (arg.startsWith('--')) {
      throw new UsageError(`unknown option ${arg}`);
    } else if (file === undefined) {
      file = arg;
    } else {
      throw new UsageError('give one receipt file');
    }
  }
  if (file === undefined) throw new UsageError('no receipt file given');
  return { file, publicKey };
}

/**
 * At most MAX_FILE_BYTES + 1 bytes of `fd`: reading the whole input first (readFileSync) and then comparing its
 * size would hold a file of any size, or a stream that never ends, in memory before refusing it.
 */
function readBounded(fd: number): Buffer {
  const buffer = Buffer.allocUnsafe(MAX_FILE_BYTES + 1);
  let length = 0;
  for (;;) {
    const read = readSync(fd, buffer, length, buffer.length - length, null);
    if (read === 0 || (length += read) === buffer.length) return buffer.subarray(0, length);
  }
}

/**
 * The first member name that appears twice in one object of `text` (JSON that JSON.parse accepted), or null.
 * JSON.parse keeps the last of duplicates silently, so without this a file could show one `output_hash` to a
 * reader (or a parser that keeps the first) while every check passes on another.
 */
export function duplicateKey(text: string): string | null {
  // One entry per open container: an object's names so far, or null for an array.
  const open: (Set<string> | null)[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '{') {
      open.push(new Set());
      expectName = true;
    } else if (char === '[') {
      open.push(null);
    } else if (char === '}' || char === ']') {
      open.pop();
    } else if (char === ',') {
      expectName = open[open.length - 1] instanceof Set;
    } else if (char === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      const names = open[open.length - 1];
      if (expectName && names) {
        // Decoded, so that "a" and "\u0061" are the same name, as they are to JSON.parse.
        const name = JSON.parse(text.slice(start, i + 1)) as string;
        if (names.has(name)) return name;
        names.add(name);
      }
      expectName = false;
    }
  }
  return null;
}

function readReceipt(file: string): unknown {
  let bytes: Buffer;
  let fd: number | undefined;
  try {
    fd = file === '-' ? 0 : openSync(file, 'r');
    bytes = readBounded(fd);
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  } finally {
    if (fd !== undefined && fd !== 0) closeSync(fd);
  }
  if (bytes.length > MAX_FILE_BYTES) throw new UsageError(`${file} is larger than a receipt can be`);
  const text = bytes.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`${file} is not JSON`); // the parser's own message may quote the file's bytes
  }
  const duplicate = duplicateKey(text);
  if (duplicate !== null) {
    throw new UsageError(
      `${file} names ${printable(JSON.stringify(duplicate.slice(0, 64)))} twice in one object`,
    );
  }
  return parsed;
}

// Control and bidirectional-override characters from the file would let a forged receipt draw its own
// "holds" lines on the terminal: they are printed as escapes.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const printable = (text: string) =>
  text.replace(UNPRINTABLE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function report(file: unknown, checks: ReceiptCheck[], pinned: boolean): string {
  const receipt = (file as { receipt?: Record<string, unknown> } | null)?.receipt;
  const lines: string[] = [];
  if (receipt && typeof receipt === 'object') {
    const runs = Array.isArray(receipt.runs) ? receipt.runs.length : 0;
    lines.push(
      `receipt of task ${shown(receipt.task_id)} (${shown(receipt.task_type)}, ` +
        `verification ${shown(receipt.verification)}, ${runs} run${runs === 1 ? '' : 's'})`,
    );
  }
  for (const check of checks) {
    lines.push(`  ${check.holds ? 'holds ' : 'FAILED'}  ${check.name}: ${check.detail}`);
  }
  if (!pinned) {
    lines.push(
      'note: the server key was taken from the receipt itself: compare server_public_key with ' +
        'GET /api/v1/receipts/public-key, or pass it with --public-key',
    );
  }
  const failed = checks.filter((check) => !check.holds).length;
  lines.push(
    failed === 0 ? `all ${checks.length} checks hold` : `${failed} of ${checks.length} checks FAILED`,
  );
  return lines.map(printable).join('\n') + '\n';
}

/** 0: every check holds; 1: a check failed; 2: usage, or a file that cannot be read as JSON. */
export function main(argv: readonly string[]): number {
  try {
    const args = parseArguments(argv);
    if (args === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const file = readReceipt(args.file);
    const checks = checkReceipt(file, { publicKey: args.publicKey });
    process.stdout.write(report(file, checks, args.publicKey !== undefined));
    return checks.every((check) => check.holds) ? 0 : 1;
  } catch (error) {
    // Anything but a check result means the receipt could not be checked: never exit 1 ("a check failed").
    if (!(error instanceof UsageError)) {
      process.stderr.write(
        `could not check the receipt: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return 2;
    }
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    return 2;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
