import type { DestinationStream } from 'pino';

/** A batch is written at once when it reaches this many characters, without waiting for the loop turn to end. */
export const MAX_BATCH_CHARS = 64 * 1024;

interface LineTarget {
  write(chunk: string): unknown;
}

/**
 * Log lines written during one turn of the event loop leave in one write, at the end of that turn (setImmediate
 * runs after the loop has handled every socket that was ready). Under load one turn answers many requests, so
 * their lines cost one write instead of one each; when idle a line waits for nothing but the current turn. What
 * a crash (kill -9) can lose is the current turn's lines, whose responses have already been sent — pino's
 * asynchronous destination, the usual alternative, can lose more and hands every write to libuv's thread pool
 * (a thread wake-up each, ~15 µs per request on the 2-core VM, bench/README.md). A clean exit writes what is
 * pending ('exit' is synchronous, and so are stdout writes to files and pipes on Linux).
 */
export class LineBatcher implements DestinationStream {
  private pending: string[] = [];
  private pendingChars = 0;
  private scheduled = false;
  private readonly flushAtTurnEnd = () => {
    this.scheduled = false;
    this.flushSync();
  };

  constructor(
    private readonly target: LineTarget,
    private readonly maxBatchChars = MAX_BATCH_CHARS,
  ) {}

  write(line: string): void {
    this.pending.push(line);
    this.pendingChars += line.length;
    if (this.pendingChars >= this.maxBatchChars) this.flushSync();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushAtTurnEnd);
    }
  }

  /** Writes what is pending now (pino's `flushSync`, called on exit). */
  flushSync(): void {
    if (this.pending.length === 0) return;
    const chunk = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    this.target.write(chunk);
  }
}

let stdoutBatcher: LineBatcher | undefined;

/** The process's one batcher in front of stdout (one, so a process that boots several apps registers one exit hook). */
export function batchedStdout(): LineBatcher {
  if (!stdoutBatcher) {
    const batcher = new LineBatcher(process.stdout);
    process.once('exit', () => batcher.flushSync());
    stdoutBatcher = batcher;
  }
  return stdoutBatcher;
}
