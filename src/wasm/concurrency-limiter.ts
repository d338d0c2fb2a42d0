import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';

/**
 * At most `limit` executions at once; later calls wait in FIFO order. The queue itself is bounded, so a
 * flood of calls is refused (503) instead of growing memory without limit.
 */
export class ConcurrencyLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly limit: number,
    readonly maxQueue: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(new AppException(ErrorCode.ServiceUnavailable, 'The WebAssembly engine is busy'));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next)
      next(); // the slot passes straight to the next caller
    else this.running--;
  }
}
