import { generateNodeKeyPair } from '../common/receipts/receipt';
import {
  FakeEngine,
  FakeServer,
  leasedRun,
  startSharedAgent,
  testAgent,
  until,
} from '../../test/support/agent-fakes';
import { Agent } from './agent';
import { Sleeps } from './pacing';
import type { AgentEvent } from './reporter';
import { TransportError } from './transport';

/** Network errors, 409s, 429s, 503s and refused keys: what the agent retries, waits for, counts and says. */
describe('Agent when the server refuses, throttles or cannot be reached', () => {
  let server: FakeServer;
  let events: AgentEvent[];
  let sut: Agent;
  const keys = generateNodeKeyPair();

  beforeEach(async () => {
    ({ server, events, sut } = await startSharedAgent(keys));
  });

  afterEach(() => sut.stop(0));

  it('a 409 lease_lost answer drops the run quietly; a network error is retried', async () => {
    server.submitAnswers = [
      new TransportError('POST /runs/x/result: ECONNRESET', true),
      { accepted: false, reason: 'lease_lost' },
    ];
    server.queue.push(leasedRun(3));
    await until(() => sut.counters.lease_lost === 1);
    expect(sut.counters.network_errors).toBe(1);
    // The next answer after network errors says so, once.
    expect(events.filter((e) => e.event === 'reconnected')).toEqual([
      { event: 'reconnected', after_ms: expect.any(Number) },
    ]);
    expect(server.submitted).toEqual([]);
    expect(events.filter((e) => e.event === 'refused')).toEqual([]);
  });

  it('a claim backing off from an unreachable server claims again as soon as a heartbeat gets through', async () => {
    const ownServer = new FakeServer();
    const ownEvents: AgentEvent[] = [];
    const agent = testAgent({
      nodeId: 'n4',
      keys,
      transport: ownServer,
      engine: new FakeEngine(),
      reporter: { emit: (event) => ownEvents.push(event) },
    });
    // A proxy in front of a restarting server: 503 with Retry-After 30 s, so the claim's own wait is long.
    ownServer.claimFailures = [new TransportError('POST /nodes/n4/claim: 503', true, 503, null, 30_000)];
    await agent.start();
    try {
      await until(() => ownEvents.some((e) => e.event === 'network_error' && e.during === 'claim'));
      ownServer.queue.push(leasedRun(8));
      // The next heartbeat (the fake server asks for one a second) is answered: the claim goes at once.
      await until(() => ownServer.submitted.length === 1, 5_000);
      expect(ownEvents.filter((e) => e.event === 'reconnected')).toHaveLength(1);
    } finally {
      await agent.stop(0);
    }
  });

  it('announces the wait it then makes before retrying (one random draw, not two)', async () => {
    const waits: number[] = [];
    const sleeps = new (class extends Sleeps {
      override sleep(ms: number, wakers?: Set<() => void>): Promise<void> {
        waits.push(ms);
        return super.sleep(ms, wakers);
      }
    })();
    // Each draw differs, so an announced wait drawn apart from the real one cannot match it by chance.
    let draws = 0;
    const ownServer = new FakeServer();
    const ownEvents: AgentEvent[] = [];
    const agent = testAgent({
      nodeId: 'n3',
      keys,
      transport: ownServer,
      engine: new FakeEngine(),
      reporter: { emit: (event) => ownEvents.push(event) },
      random: () => [0.3, 0.7][draws++ % 2],
      sleeps,
    });
    ownServer.submitAnswers = [new TransportError('POST /runs/x/result: ECONNRESET', true)];
    await agent.start();
    try {
      ownServer.queue.push(leasedRun(5));
      await until(() => ownServer.submitted.length === 1);
      const announced = ownEvents.filter((e) => e.event === 'network_error' && e.during === 'submit');
      expect(announced).toHaveLength(1);
      // Backoff after a first failure is at most 500 ms; the agent's other waits (heartbeat gaps) are longer.
      const backoffs = waits.filter((ms) => ms <= 500).map(Math.round);
      expect(backoffs).toEqual([announced[0].retry_ms]);
    } finally {
      await agent.stop(0);
    }
  });

  it('a 429 waits as long as its Retry-After asks (within a third of a held lease), counted as throttled', async () => {
    const waits: number[] = [];
    const sleeps = new (class extends Sleeps {
      override sleep(ms: number, wakers?: Set<() => void>): Promise<void> {
        waits.push(ms);
        // Recorded, not made: the test needs only what each wait would have been.
        return super.sleep(Math.min(ms, 5), wakers);
      }
    })();
    const ownServer = new FakeServer();
    const ownEvents: AgentEvent[] = [];
    const agent = testAgent({
      transport: ownServer,
      engine: new FakeEngine(),
      reporter: { emit: (event) => ownEvents.push(event) },
      sleeps,
    });
    const throttled = (path: string, retryAfterMs: number | null) =>
      new TransportError(`${path}: 429 rate_limited`, true, 429, 'rate_limited', retryAfterMs);
    ownServer.submitAnswers = [
      throttled('POST /runs/x/result', 2_000),
      throttled('POST /runs/x/result', 500),
      throttled('POST /runs/x/result', null),
    ];
    await agent.start();
    try {
      ownServer.queue.push(leasedRun(6));
      await until(() => ownServer.submitted.length === 1);
      ownServer.heartbeatFailures = [throttled('PUT /nodes/n2/heartbeat', 7_000)];
      await until(() => ownEvents.some((e) => e.event === 'throttled' && e.during === 'heartbeat'));
      // Jitter 0 (testAgent's random): the Retry-After itself, but at most a third of the 3 s lease the agent
      // holds while its result waits; without a Retry-After the backoff (here its 50 ms floor). Holding no
      // lease, the heartbeat waits the 7 s asked.
      const announced = ownEvents.filter((e) => e.event === 'throttled');
      expect(announced.map((e) => [e.during, e.retry_ms])).toEqual([
        ['submit', 1_000],
        ['submit', 500],
        ['submit', 50],
        ['heartbeat', 7_000],
      ]);
      expect(waits).toEqual(expect.arrayContaining([1_000, 500, 50]));
      expect(waits.some((ms) => ms > 6_900 && ms <= 7_000)).toBe(true);
      expect(agent.counters).toMatchObject({ throttled: 4, network_errors: 0, submitted: 1 });
    } finally {
      await agent.stop(0);
    }
  });

  it('measures a lease on the server’s clock: a server a minute ahead still gets beats within a third of it', async () => {
    const ownServer = new (class extends FakeServer {
      serverNow = () => Date.now() + 60_000;
    })();
    const ownEvents: AgentEvent[] = [];
    const agent = testAgent({
      transport: ownServer,
      engine: new FakeEngine(),
      reporter: { emit: (event) => ownEvents.push(event) },
      sleeps: new (class extends Sleeps {
        override sleep(ms: number, wakers?: Set<() => void>): Promise<void> {
          return super.sleep(Math.min(ms, 5), wakers); // the announced wait is what counts here
        }
      })(),
    });
    ownServer.submitAnswers = [
      new TransportError('POST /runs/x/result: 429 rate_limited', true, 429, 'rate_limited', 2_000),
    ];
    await agent.start();
    try {
      // A 3 s lease as the server counts it; on this machine's clock it ends 63 s from now.
      ownServer.queue.push({
        ...leasedRun(7),
        lease_expires_at: new Date(Date.now() + 63_000).toISOString(),
      });
      await until(() => ownServer.submitted.length === 1);
      const throttled = ownEvents.filter((e) => e.event === 'throttled');
      // A third of the lease (1 s), not of the 63 s this machine's clock would make of it.
      expect(throttled.map((e) => e.retry_ms)).toEqual([1_000]);
    } finally {
      await agent.stop(0);
    }
  });

  it('says when the server refuses its key (401), not when it refuses something else (403)', async () => {
    let refused: Error | null = null;
    void sut.unusable.then(({ error }) => (refused = error));
    const beats = server.beats.length;
    server.heartbeatFailures = [
      new TransportError('PUT /nodes/n1/heartbeat: 403 forbidden', false, 403, 'forbidden'),
    ];
    await until(() => server.beats.length > beats); // the 403 was met, and a later beat went through
    await Promise.resolve();
    expect(refused).toBeNull();
    expect(sut.counters.refused).toBe(1); // a refusal is counted whatever was refused
    const revoked = new TransportError(
      'PUT /nodes/n1/heartbeat: 401 unauthorized',
      false,
      401,
      'unauthorized',
    );
    server.heartbeatFailures = [revoked];
    expect(await sut.unusable).toEqual({ kind: 'key_refused', error: revoked });
  });

  it('a heartbeat that calls a run lost while its result is being sent lets the result’s retry tell', async () => {
    // The result was accepted and its answer lost: the run is no longer leased, and the next beat says `lost`.
    server.submitAnswers = [new TransportError('POST /runs/x/result: ECONNRESET', true)];
    server.holdSubmits = true;
    const run = leasedRun(4);
    server.queue.push(run);
    await until(() => server.submitsWaiting === 1);
    const beats = server.beats.length;
    server.leases = { renewed: [], lost: [run.run_id], cancel: [] };
    await until(() => server.beats.length > beats + 1);
    server.releaseSubmits();
    // The retry is answered as the server answers a result it accepted: counted as done, not as a lost lease.
    await until(() => sut.counters.submitted === 1);
    expect(sut.counters).toMatchObject({ succeeded: 1, lease_lost: 0 });
    expect(events.filter((e) => e.event === 'dropped')).toEqual([]);
  });

  it('gives such a result up a lease after that beat if its retries keep failing (never retried for ever)', async () => {
    server.submitAnswers = Array.from(
      { length: 1000 },
      () => new TransportError('POST: 502 bad gateway', true),
    );
    const run = leasedRun(5);
    server.queue.push(run);
    await until(() => server.submitTimeouts.length > 0);
    server.leases = { renewed: [], lost: [run.run_id], cancel: [] };
    // The runs are leased for 3 s here: dropped within that after the beat (and its retries' backoff).
    await until(() => events.some((e) => e.event === 'dropped'), 10_000);
    expect(events.find((e) => e.event === 'dropped')).toMatchObject({
      run_id: run.run_id,
      reason: 'lease lost',
    });
    expect(sut.counters).toMatchObject({ succeeded: 0, lease_lost: 1 });
    expect(sut.running).toBe(0);
  });
});

/**
 * An answer that leases runs (a claim, a result carrying Claim-Next) and never arrives is retried with the same
 * Idempotency-Key, which gets those runs only while their lease holds: the agent must give the answer up in time
 * for the retry to arrive within the lease, which counts from the answer.
 */
describe('Agent waiting for answers that lease runs', () => {
  it('gives them up within two thirds of a lease, so that their retry still gets what they leased', async () => {
    const server = new FakeServer();
    const engine = new FakeEngine();
    // The default long poll (no claimWaitMs), and runs leased for 12 s.
    const sut = testAgent({ transport: server, engine, claimWaitMs: undefined });
    await sut.start();
    try {
      await until(() => server.claimWaits.length > 0);
      // Before any run tells the lease: the server's default of 30 s is assumed.
      expect(server.claimWaits[0]).toEqual({ waitMs: 10_000, slackMs: 10_000 });
      const run = { ...leasedRun(1), lease_expires_at: new Date(Date.now() + 12_000).toISOString() };
      server.queue.push(run, leasedRun(2));
      await until(() => server.submitted.length === 2);
      // The first result carried the claim for the freed slot: given up after a third of the 12 s lease.
      expect(server.submitted[0].claimNext).toBe(1);
      expect(server.submitTimeouts[0]).toBeGreaterThan(3_900);
      expect(server.submitTimeouts[0]).toBeLessThanOrEqual(4_000);
      // Run 2's result, and the claims that follow, go by its 3 s lease.
      expect(server.submitted[1].claimNext).toBe(1);
      expect(server.submitTimeouts[1]).toBeLessThanOrEqual(1_000);
      const claims = server.claimWaits.length;
      await until(() => server.claimWaits.length > claims);
      const { waitMs, slackMs } = server.claimWaits.at(-1)!;
      expect(waitMs + slackMs!).toBeLessThanOrEqual(2_000);
      // Whole milliseconds: wait_ms is an integer on the wire, and AbortSignal.timeout throws on a fraction.
      for (const value of [waitMs, slackMs, ...server.submitTimeouts.filter((ms) => ms !== undefined)])
        expect(Number.isInteger(value)).toBe(true);
      expect(waitMs + slackMs!).toBeGreaterThan(1_500);
    } finally {
      await sut.stop(0);
    }
  });
});
