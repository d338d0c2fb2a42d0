import { Logger } from '@nestjs/common';
import { IntervalSweep } from './interval-sweep';

class ProbeSweep extends IntervalSweep {
  started = 0;
  finish: (() => void)[] = [];
  failNext = false;
  dueInMs: number | null = null;
  dueFails = false;

  constructor() {
    super('ProbeSweep');
  }

  protected get intervalMs(): number {
    return 100;
  }

  /** Holds the answer of nextDueInMs until resolved (a slow database). */
  dueGate: Promise<void> = Promise.resolve();

  protected override async nextDueInMs(): Promise<number | null> {
    await this.dueGate;
    if (this.dueFails) throw new Error('database down');
    return this.dueInMs;
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

/** Lets the promise chain after a sweep (the early-sweep question, clearing `running`) settle. */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

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
    await settle();
    jest.advanceTimersByTime(100);
    expect(sut.started).toBe(2);
  });

  it('sweeps early when the sweeper names a deadline sooner than the interval', async () => {
    sut.dueInMs = 30;
    jest.advanceTimersByTime(100);
    sut.finish.shift()!();
    await settle();
    jest.advanceTimersByTime(29);
    expect(sut.started).toBe(1);
    jest.advanceTimersByTime(1);
    expect(sut.started).toBe(2);
  });

  it('asks for the first deadline at start: one known before any sweep is kept (leases from before a restart)', async () => {
    const restarted = new ProbeSweep();
    restarted.dueInMs = 30;
    restarted.onApplicationBootstrap();
    await settle();
    jest.advanceTimersByTime(29);
    expect(restarted.started).toBe(0);
    jest.advanceTimersByTime(1);
    expect(restarted.started).toBe(1);
    restarted.finish.shift()!();
    await restarted.onModuleDestroy();
  });

  it('logs a deadline it cannot read at start and sweeps at the interval', async () => {
    const restarted = new ProbeSweep();
    restarted.dueFails = true;
    restarted.onApplicationBootstrap();
    await settle();
    expect(Logger.prototype.error).toHaveBeenCalledWith(expect.stringContaining('database down'));
    jest.advanceTimersByTime(100);
    expect(restarted.started).toBe(1);
    restarted.finish.shift()!();
    await restarted.onModuleDestroy();
  });

  it('shutdown waits for the deadline still being read at start (its query needs the database)', async () => {
    const restarted = new ProbeSweep();
    let answer = (): void => undefined;
    restarted.dueGate = new Promise((resolve) => (answer = resolve));
    restarted.onApplicationBootstrap();
    let stopped = false;
    const stopping = restarted.onModuleDestroy().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    answer();
    await stopping;
    expect(stopped).toBe(true);
  });

  it('does not sweep early for a deadline at or past the interval (negative control)', async () => {
    sut.dueInMs = 100;
    jest.advanceTimersByTime(100);
    sut.finish.shift()!();
    await settle();
    jest.advanceTimersByTime(99);
    expect(sut.started).toBe(1);
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
