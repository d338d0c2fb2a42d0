import { Heartbeats } from './heartbeats';
import { Sleeps } from './pacing';
import { zeroCounters } from './reporter';
import { AgentTransport, TransportError } from './transport';

/** The wait the loop makes after a beat the server answered with `interval` (jitter 0.5: the interval itself). */
async function waitAfter(interval: unknown): Promise<number> {
  const waits: number[] = [];
  const sleeps = new (class extends Sleeps {
    override sleep(ms: number): Promise<void> {
      waits.push(ms);
      return Promise.resolve();
    }
  })();
  const transport = {
    heartbeat: () => Promise.resolve({ heartbeat_interval_secs: interval, node_status: 'online' }),
  } as unknown as AgentTransport;
  const sut = new Heartbeats({
    transport,
    version: 'test',
    counters: zeroCounters(),
    random: () => 0.5,
    sleeps,
    leases: () => [],
    renewWithinMs: () => null,
    drop: () => undefined,
    noteFailure: () => undefined,
    noteAnswered: () => undefined,
    noteMaxRuns: () => undefined,
  });
  await sut.beat();
  await sut.loop(() => waits.length === 0);
  return waits[0];
}

describe('Heartbeats, when the server names its interval', () => {
  it('beats at the interval the server asks for', async () => {
    expect(await waitAfter(15)).toBeCloseTo(15_000, -2);
  });

  // Past 2^31 ms a timer fires at once: a server asking for 1e9 s would get a beat every millisecond.
  it('keeps it within 1 s – 1 h (NODE_HEARTBEAT_INTERVAL_SECS), so an absurd one is no tight loop', async () => {
    expect(await waitAfter(1e9)).toBeCloseTo(3_600_000, -3);
    expect(await waitAfter(0.001)).toBeCloseTo(1_000, -2);
  });

  it('keeps its own (15 s) when the interval is not a positive number', async () => {
    for (const interval of [null, -5, 'soon', Number.NaN]) {
      expect(await waitAfter(interval)).toBeCloseTo(15_000, -2);
    }
  });
});

describe('Heartbeats, while holding leases', () => {
  it('waits for a beat’s answer no longer than a third of the lease, so its retry still renews them', async () => {
    const timeouts: (number | undefined)[] = [];
    const transport = {
      heartbeat: (_body: unknown, _signal: unknown, timeoutMs?: number) => {
        timeouts.push(timeoutMs);
        return Promise.resolve({ heartbeat_interval_secs: 15, node_status: 'online' });
      },
    } as unknown as AgentTransport;
    let leases: { run_id: string; fence: string }[] = [{ run_id: 'r1', fence: '1' }];
    const sut = new Heartbeats({
      transport,
      version: 'test',
      counters: zeroCounters(),
      random: () => 0.5,
      sleeps: new Sleeps(),
      leases: () => leases,
      renewWithinMs: () => (leases.length > 0 ? 10_000 : null),
      drop: () => undefined,
      noteFailure: () => undefined,
      noteAnswered: () => undefined,
      noteMaxRuns: () => undefined,
    });
    await sut.beat();
    leases = [];
    await sut.beat();
    expect(timeouts).toEqual([10_000, 15_000]); // idle: the server's interval
  });
});

describe('Heartbeats, when beats fail while idle', () => {
  it('retries within the server’s interval, not at the 30 s the backoff reaches (the node must not go offline)', async () => {
    // The loop waits by the monotonic clock: the fake sleeps move a fake one on by their wait.
    let now = 0;
    const clock = jest.spyOn(performance, 'now').mockImplementation(() => now);
    const sleeps = new (class extends Sleeps {
      override sleep(ms: number): Promise<void> {
        now += ms;
        return Promise.resolve();
      }
    })();
    let answered = false;
    const transport = {
      heartbeat: () => {
        if (answered) return Promise.reject(new TransportError('503 service_unavailable', true, 503));
        answered = true;
        return Promise.resolve({ heartbeat_interval_secs: 2, node_status: 'online' });
      },
    } as unknown as AgentTransport;
    const failures: number[] = [];
    const sut = new Heartbeats({
      transport,
      version: 'test',
      counters: zeroCounters(),
      random: () => 0.999, // the longest wait the backoff allows
      sleeps,
      leases: () => [],
      renewWithinMs: () => null,
      drop: () => undefined,
      noteFailure: (_error, retryMs) => failures.push(retryMs),
      noteAnswered: () => undefined,
      noteMaxRuns: () => undefined,
    });
    await sut.beat();
    try {
      await sut.loop(() => failures.length < 10);
    } finally {
      clock.mockRestore();
    }
    expect(failures).toHaveLength(10);
    expect(Math.max(...failures)).toBeLessThanOrEqual(2_000);
    expect(failures.at(-1)).toBeGreaterThan(1_900); // capped, not merely short: 250 ms × 2^10 would be 30 s
  });
});
