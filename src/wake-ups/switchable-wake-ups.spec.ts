import { SwitchableWakeUps } from './switchable-wake-ups';
import { WakeUpTransport } from './wake-up-transport';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/**
 * A transport whose connection exists once its start is let through, and whose close ends only a connection
 * that exists at that moment: the naive transport the switch must be safe with.
 */
class FakeTransport extends WakeUpTransport {
  readonly kind = 'postgres' as const;
  open = false;
  starts = 0;
  readonly starting = deferred();
  closing: Deferred | null = null;

  async start(): Promise<void> {
    this.starts++;
    await this.starting.promise;
    this.open = true;
  }

  async onApplicationShutdown(): Promise<void> {
    this.open = false;
    if (this.closing) await this.closing.promise;
  }

  publish(): void {}
  subscribe(): void {}
}

/** Lets every pending promise callback run (no timers). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SwitchableWakeUps', () => {
  let first: FakeTransport;
  let next: FakeTransport;
  let sut: SwitchableWakeUps;

  beforeEach(async () => {
    first = new FakeTransport();
    next = new FakeTransport();
    sut = new SwitchableWakeUps(first);
    first.starting.resolve();
    await sut.start();
  });

  it('a switch with no shutdown leaves the new transport open (control)', async () => {
    next.starting.resolve();
    await sut.switchTo(next);
    expect([first.open, next.open]).toEqual([false, true]);
  });

  it('closes the new transport when shutdown came while it was starting', async () => {
    const switching = sut.switchTo(next);
    await settle();
    expect(next.starts).toBe(1);
    const shutdown = sut.onApplicationShutdown();
    let shutDown = false;
    void shutdown.then(() => (shutDown = true));
    await settle();
    // Shutdown waits for the start under way: the process must not end with its connection about to open.
    expect(shutDown).toBe(false);
    next.starting.resolve();
    await Promise.all([switching, shutdown]);
    expect(next.open).toBe(false);
  });

  it('does not start the new transport when shutdown came while the old one was closing', async () => {
    first.closing = deferred();
    const switching = sut.switchTo(next);
    await settle();
    const shutdown = sut.onApplicationShutdown();
    first.closing.resolve();
    next.starting.resolve();
    await Promise.all([switching, shutdown]);
    expect([next.starts, next.open]).toEqual([0, false]);
  });

  it('closes a transport a second switch set aside while it was starting', async () => {
    const third = new FakeTransport();
    const switching = sut.switchTo(next);
    await settle();
    third.starting.resolve();
    const again = sut.switchTo(third);
    next.starting.resolve();
    await Promise.all([switching, again]);
    expect([next.open, third.open]).toEqual([false, true]);
  });
});
