import { FakeEngine, FakeServer, leasedRun, testAgent, until } from '../../test/support/agent-fakes';
import type { Agent } from './agent';
import { ClaimSize, MAX_CLAIM, ONE_AT_A_TIME_MS } from './claim-size';
import { Sleeps } from './pacing';
import type { AgentEvent } from './reporter';
import { ANSWER_TOO_LARGE, TransportError } from './transport';

/** A claim whose answer (the runs' inputs) is larger than the agent reads: smaller claims, then backing off. */
describe('Agent given claim answers too large to read', () => {
  let server: FakeServer;
  let events: AgentEvent[];
  let waits: number[];
  let sut: Agent;

  const start = async (concurrency: number) => {
    sut = testAgent({
      concurrency,
      transport: server,
      engine: new FakeEngine(),
      reporter: { emit: (event) => events.push(event) },
      random: () => 1,
      sleeps: new (class extends Sleeps {
        override sleep(ms: number, wakers?: Set<() => void>): Promise<void> {
          waits.push(ms);
          return super.sleep(Math.min(ms, 5), wakers); // the announced wait is what counts here
        }
      })(),
    });
    await sut.start();
  };

  beforeEach(() => {
    server = new FakeServer();
    events = [];
    waits = [];
  });

  afterEach(() => sut.stop(0));

  const tooLarge = () => events.filter((e) => e.event === 'answer_too_large');

  it('claims one run at a time after a claim answer too large to read, and goes on', async () => {
    server.answerFits = 1;
    server.queue.push(leasedRun(1), leasedRun(2), leasedRun(3), leasedRun(4), leasedRun(5), leasedRun(6));
    await start(4);
    await until(() => server.submitted.length === 2);
    // The first claim's four runs were leased unseen (they expire); the rest come one at a time.
    expect(server.submitted.map((s) => s.runId).sort()).toEqual([leasedRun(5).run_id, leasedRun(6).run_id]);
    expect(server.claimMaxes[0]).toBe(4);
    expect(new Set(server.claimMaxes.slice(1))).toEqual(new Set([1]));
    expect(server.submitted.every((s) => s.claimNext === undefined || s.claimNext === 1)).toBe(true);
    expect(tooLarge()).toEqual([
      {
        event: 'answer_too_large',
        during: 'claim',
        runs: 4,
        message: 'POST /nodes/n/claim: the answer is larger than 256 MiB, the most the agent reads',
        retry_ms: 0,
      },
    ]);
    expect(sut.counters.network_errors).toBe(0);
  });

  it('backs off, saying so each time, when even one run is too large to read', async () => {
    server.answerFits = 0;
    server.queue.push(leasedRun(1), leasedRun(2), leasedRun(3));
    await start(1);
    await until(() => tooLarge().length === 3 && server.queue.length === 0);
    expect(tooLarge().map((e) => [e.during, e.runs])).toEqual([
      ['claim', 1],
      ['claim', 1],
      ['claim', 1],
    ]);
    // Exponential backoff (jitter 1 here): 500, 1000, 2000 ms, each the wait its line announced.
    const retries = tooLarge().map((e) => e.retry_ms);
    expect(retries).toEqual([500, 1000, 2000]);
    expect(waits).toEqual(expect.arrayContaining(retries));
    expect(server.submitted).toEqual([]);
  });

  it('a result whose Claim-Next answer is too large is sent again without it; later claims ask for one', async () => {
    const engine = new FakeEngine();
    engine.hold = true;
    sut = testAgent({
      concurrency: 2,
      transport: server,
      engine,
      reporter: { emit: (event) => events.push(event) },
    });
    await sut.start();
    server.queue.push(leasedRun(1), leasedRun(2));
    await until(() => engine.started.length === 2);
    server.answerFits = 0;
    server.queue.push(leasedRun(3));
    engine.releaseAll();
    await until(() => server.submitted.length === 2);
    // The claim a result carried leased run 3 unseen (it expires); the result itself went through on the retry.
    expect(server.submitted.map((s) => s.claimNext)).toEqual([undefined, undefined]);
    expect(tooLarge()).toEqual([expect.objectContaining({ during: 'submit', runs: 1, retry_ms: 0 })]);
    // Both slots are free now, yet claims ask for one run at a time.
    server.answerFits = Infinity;
    engine.hold = false;
    server.claimMaxes = [];
    server.queue.push(leasedRun(4));
    await until(() => server.submitted.length === 3);
    expect(server.claimMaxes.length).toBeGreaterThan(0);
    expect(new Set(server.claimMaxes)).toEqual(new Set([1]));
  });
});

describe('ClaimSize', () => {
  it('asks for one run at a time for ONE_AT_A_TIME_MS after an answer too large, then for MAX_CLAIM again', () => {
    let now = 1_000;
    const sut = new ClaimSize({ emit: () => undefined }, () => now);
    expect(sut.max).toBe(MAX_CLAIM);
    sut.tooLarge(new TransportError('too large', true, null, ANSWER_TOO_LARGE), 'claim', 16, 0);
    now += ONE_AT_A_TIME_MS - 1;
    expect(sut.max).toBe(1);
    now += 1;
    expect(sut.max).toBe(MAX_CLAIM);
  });
});
