import { Logger } from '@nestjs/common';
import { IntervalSweep } from './interval-sweep';

class ProbeSweep extends IntervalSweep {
  started = 0;
  finish: (() => void)[] = [];
  failNext = false;

  constructor() {
    super('ProbeSweep');
  }

  protected get intervalMs(): number {
    return 100;
  }

  sweep(): Promise<void> {
    this.started++;
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('boom'));
    }
    return new Promise((resolve) => this.finish.push(resolve));
  }
}

describe('IntervalSweep', () => {
  let sut: ProbeSweep;

  beforeEach(() => {
    jest.useFakeTimers();
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    sut = new ProbeSweep();
    sut.onApplicationBootstrap();
  });
  afterEach(async () => {
    for (const finish of sut.finish) finish();
    await sut.onModuleDestroy();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('sweeps every interval, never overlapping a sweep still running', async () => {
    expect(sut.started).toBe(0);
    jest.advanceTimersByTime(100);
    expect(sut.started).toBe(1);
    jest.advanceTimersByTime(500);
    expect(sut.started).toBe(1);
    sut.finish.shift()!();
    await Promise.resolve();
    await Promise.resolve();
    jest.advanceTimersByTime(100);
    expect(sut.started).toBe(2);
  });

  it('logs a failed sweep and sweeps again at the next tick', async () => {
    sut.failNext = true;
    jest.advanceTimersByTime(100);
    await jest.runOnlyPendingTimersAsync();
    expect(Logger.prototype.error).toHaveBeenCalledWith(expect.stringContaining('boom'));
    expect(sut.started).toBe(2);
  });

  it('shutdown stops the ticks and waits for the sweep in flight', async () => {
    jest.advanceTimersByTime(100);
    let stopped = false;
    const stopping = sut.onModuleDestroy().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false);
    sut.finish.shift()!();
    await stopping;
    expect(stopped).toBe(true);
    jest.advanceTimersByTime(1000);
    expect(sut.started).toBe(1);
  });
});
