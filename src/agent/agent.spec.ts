import { createHash } from 'node:crypto';
import { jsonSha256Hex } from '../common/crypto/json-hash';
import { generateNodeKeyPair, RunReceipt, verifyReceipt } from '../common/receipts/receipt';
import type { RunRequest } from '../wasm/run-request';
import type { RunResult } from '../wasm/wasm.service';
import { Agent, AgentSetup } from './agent';
import { Sleeps } from './pacing';
import { ContentCache } from './content-cache';
import type { WasmEngine } from './executors';
import type { AgentEvent } from './reporter';
import {
  AgentTransport,
  HeartbeatAnswer,
  HeartbeatBody,
  LeasedRun,
  ResultBody,
  SubmitAnswer,
  TransportError,
} from './transport';

const MODULE = Buffer.from('not really wasm: the engine is a stand-in here');
const MODULE_ID = createHash('sha256').update(MODULE).digest('hex');

const leasedRun = (n: number): LeasedRun => ({
  run_id: `00000000-0000-4000-8000-00000000000${n}`,
  task_id: `10000000-0000-4000-8000-00000000000${n}`,
  task_type: 'wasm_execution',
  fence: String(40 + n),
  lease_expires_at: new Date(Date.now() + 3000).toISOString(),
  spec: {
    module_id: MODULE_ID,
    module_url: `/api/v1/modules/${MODULE_ID}/download`,
    inputs: { n },
    args: [],
    deterministic: true,
    limits: { timeout_ms: 10_000, memory_mb: 64, output_bytes: 65536 },
  },
});

/** The server side of the protocol, scripted by each test. */
class FakeServer implements AgentTransport {
  queue: LeasedRun[] = [];
  beats: HeartbeatBody[] = [];
  submitted: { runId: string; body: ResultBody; claimNext?: number }[] = [];
  /** Claims that leased something, made by the claim loop (not those a result carried). */
  leasingClaims = 0;
  /** Whether results may carry a claim (Claim-Next); a server that predates it answers without `next`. */
  offersClaimNext = true;
  leases: HeartbeatAnswer['leases'] = { renewed: [], lost: [], cancel: [] };
  submitAnswers: (SubmitAnswer | Error)[] = [];
  /** While set, submissions wait for releaseSubmits(). */
  holdSubmits = false;
  private readonly heldSubmits: (() => void)[] = [];

  releaseSubmits(): void {
    this.holdSubmits = false;
    for (const resolve of this.heldSubmits.splice(0)) resolve();
  }

  /** Failures the next heartbeats meet, in order. */
  heartbeatFailures: Error[] = [];
  /** What heartbeat answers say of NODE_MAX_CONCURRENT_RUNS (absent: a server that does not say). */
  maxConcurrentRuns: number | undefined;
  /** The `max` of every claim the claim loop made. */
  claimMaxes: number[] = [];

  heartbeat(body: HeartbeatBody): Promise<HeartbeatAnswer> {
    const failure = this.heartbeatFailures.shift();
    if (failure) return Promise.reject(failure);
    this.beats.push(body);
    const leases = this.leases;
    this.leases = { renewed: [], lost: [], cancel: [] };
    const max = this.maxConcurrentRuns === undefined ? {} : { max_concurrent_runs: this.maxConcurrentRuns };
    return Promise.resolve({ heartbeat_interval_secs: 1, node_status: 'online', leases, ...max });
  }

  /** Failures the next claims meet, in order. */
  claimFailures: Error[] = [];

  async claim(max: number, _waitMs: number, signal: AbortSignal): Promise<LeasedRun[]> {
    const failure = this.claimFailures.shift();
    if (failure) throw failure;
    this.claimMaxes.push(max);
    const runs = this.queue.splice(0, max);
    if (runs.length > 0) this.leasingClaims++;
    if (runs.length === 0) await new Promise((resolve) => setTimeout(resolve, signal.aborted ? 0 : 20));
    return runs;
  }

  async submit(runId: string, body: ResultBody, claimNext?: number): Promise<SubmitAnswer> {
    if (this.holdSubmits) await new Promise<void>((resolve) => this.heldSubmits.push(resolve));
    const answer = this.submitAnswers.shift() ?? { accepted: true, taskStatus: 'completed' };
    if (answer instanceof Error) return Promise.reject(answer);
    if (!answer.accepted) return answer;
    this.submitted.push({ runId, body, claimNext });
    const next =
      claimNext !== undefined && this.offersClaimNext ? this.queue.splice(0, claimNext) : undefined;
    return { ...answer, next };
  }

  module(): Promise<Uint8Array> {
    return Promise.resolve(MODULE);
  }

  circuit(): never {
    throw new Error('no circuits here');
  }

  circuitArtifact(): never {
    throw new Error('no circuits here');
  }
}

/** Echoes the inputs after `release()` is called for the run (or at once), and notices a cancel. */
class FakeEngine implements WasmEngine {
  readonly started: RunRequest[] = [];
  readonly aborted: RunRequest[] = [];
  hold = false;
  private readonly waiting: (() => void)[] = [];

  async runBytes(bytes: Uint8Array, request: RunRequest): Promise<RunResult> {
    this.started.push(request);
    if (this.hold) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        request.signal?.addEventListener('abort', () => {
          this.aborted.push(request);
          resolve();
        });
      });
    }
    return {
      exit_code: 0,
      stdout: request.inputs,
      stderr: '',
      execution_time_ms: 3,
      module_hash: createHash('sha256').update(bytes).digest('hex'),
      inputs_hash: 'x',
      output_hash: 'x',
      runtime: 'v8',
      outcome: 'ok',
    };
  }

  releaseAll(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

const until = async (check: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** An agent with one slot, a fresh key, a silent reporter and short claims, unless `setup` says otherwise. */
const testAgent = (setup: Pick<AgentSetup, 'transport' | 'engine'> & Partial<AgentSetup>) =>
  new Agent({
    nodeId: 'n2',
    concurrency: 1,
    keys: generateNodeKeyPair(),
    cache: new ContentCache(null, 1024 * 1024),
    reporter: { emit: () => undefined },
    version: 'test',
    claimWaitMs: 20,
    random: () => 0,
    ...setup,
  });

const oneSlotAgent = (transport: AgentTransport, engine: WasmEngine) => testAgent({ transport, engine });

describe('Agent', () => {
  let server: FakeServer;
  let engine: FakeEngine;
  let events: AgentEvent[];
  let sut: Agent;
  const keys = generateNodeKeyPair();

  beforeEach(async () => {
    server = new FakeServer();
    engine = new FakeEngine();
    events = [];
    sut = testAgent({
      nodeId: 'n1',
      concurrency: 2,
      keys,
      transport: server,
      engine,
      reporter: { emit: (event) => events.push(event) },
    });
    await sut.start();
  });

  afterEach(() => sut.stop(0));

  it('executes a claimed run and reports it signed over the pinned receipt', async () => {
    const run = leasedRun(1);
    server.queue.push(run);
    await until(() => server.submitted.length === 1);
    const { runId, body } = server.submitted[0];
    expect(runId).toBe(run.run_id);
    expect(body).toMatchObject({ fence: run.fence, outcome: 'ok', output: { n: 1 }, execution_time_ms: 3 });
    expect(body.output_hash).toBe(jsonSha256Hex({ n: 1 }));
    const receipt: RunReceipt = {
      task_id: run.task_id,
      run_id: run.run_id,
      fence: run.fence,
      module_hash: MODULE_ID,
      inputs_hash: jsonSha256Hex({ n: 1 }),
      output_hash: body.output_hash,
      outcome: 'ok',
      execution_time_ms: 3,
    };
    expect(verifyReceipt(receipt, body.signature, keys.publicKeyBase64)).toBe(true);
    expect(verifyReceipt({ ...receipt, outcome: 'trap' }, body.signature, keys.publicKeyBase64)).toBe(false);
    expect(engine.started[0]).toMatchObject({
      deterministic: true,
      timeoutMs: 10_000,
      limits: { maxMemoryBytes: 64 * 1024 * 1024, maxOutputBytes: 65536 },
    });
    expect(sut.counters).toMatchObject({ claimed: 1, submitted: 1, succeeded: 1 });
  });

  it('reports how busy its slots were since the last counters (a run holds a slot until it finished executing)', async () => {
    let clock = 0;
    const counted: AgentEvent[] = [];
    const agent = testAgent({
      nodeId: 'n3',
      concurrency: 2,
      keys,
      transport: server,
      engine,
      reporter: { emit: (event) => event.event === 'counters' && counted.push(event) },
      clock: () => clock,
    });
    await sut.stop(0); // the shared agent would claim the run too
    await agent.start();
    try {
      engine.hold = true;
      server.queue.push(leasedRun(7));
      await until(() => engine.started.length === 1);
      clock = 1_000; // one of two slots busy for the whole second
      agent.reportCounters();
      engine.releaseAll();
      await until(() => server.submitted.length === 1);
      clock = 2_000; // nothing held since
      agent.reportCounters();
      expect(counted.map((event) => event.slots_busy_pct)).toEqual([50, 0]);
    } finally {
      await agent.stop(0);
    }
  });

  it.each([
    [2, 2],
    [undefined, 4],
  ])(
    'uses no more slots than the server leases to one node (max_concurrent_runs %s: %s of 4 slots)',
    async (maxConcurrentRuns, slots) => {
      await sut.stop(0); // the shared agent would claim the runs too
      server.maxConcurrentRuns = maxConcurrentRuns;
      const seen: AgentEvent[] = [];
      const agent = testAgent({
        nodeId: 'n4',
        concurrency: 4,
        keys,
        transport: server,
        engine,
        reporter: { emit: (event) => seen.push(event) },
      });
      await agent.start();
      try {
        expect(agent.slots).toBe(slots);
        engine.hold = true;
        server.queue.push(...[1, 2, 3, 4].map(leasedRun));
        await until(() => engine.started.length === slots);
        // A heartbeat later (it names the held runs), no further run has started and no claim asked for more.
        const beats = server.beats.length;
        await until(() => server.beats.length > beats);
        expect(engine.started).toHaveLength(slots);
        expect(Math.max(...server.claimMaxes)).toBeLessThanOrEqual(slots);
        const limited = seen.filter((event) => event.event === 'slots_limited');
        expect(limited).toEqual(
          maxConcurrentRuns === undefined
            ? []
            : [{ event: 'slots_limited', slots, concurrency: 4, max_concurrent_runs: maxConcurrentRuns }],
        );
      } finally {
        engine.releaseAll();
        await agent.stop(0);
      }
    },
  );

  it('names its leases in heartbeats, and stops a run at once when the server says it is lost', async () => {
    engine.hold = true;
    const run = leasedRun(2);
    server.queue.push(run);
    await until(() => server.beats.some((beat) => beat.runs.some((r) => r.run_id === run.run_id)));
    expect(server.beats.at(-1)!.runs).toEqual([{ run_id: run.run_id, fence: run.fence }]);
    server.leases = { renewed: [], lost: [run.run_id], cancel: [] };
    await until(() => engine.aborted.length === 1);
    await until(() => events.some((e) => e.event === 'dropped'));
    expect(server.submitted).toEqual([]);
    expect(sut.counters.lease_lost).toBe(1);
    expect(sut.running).toBe(0);
  });

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

  it('counts a run the server rejected (a proof that did not verify) as failed, not succeeded', async () => {
    server.submitAnswers = [{ accepted: true, taskStatus: 'pending', runStatus: 'rejected' }];
    server.queue.push(leasedRun(7));
    await until(() => sut.counters.submitted === 1);
    expect(sut.counters).toMatchObject({ succeeded: 0, failed: 1 });
    expect(events.find((e) => e.event === 'submitted')).toMatchObject({ run_status: 'rejected' });
  });

  it('says when the server refuses its key (401), not when it refuses something else (403)', async () => {
    let refused: TransportError | null = null;
    void sut.keyRefused.then((error) => (refused = error));
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
    expect(await sut.keyRefused).toBe(revoked);
  });

  it('a result carries the claim for the slot its run freed (Claim-Next): one request per run', async () => {
    const ownServer = new FakeServer();
    const one = oneSlotAgent(ownServer, new FakeEngine());
    await one.start();
    try {
      ownServer.queue.push(leasedRun(6), leasedRun(7), leasedRun(8));
      await until(() => ownServer.submitted.length === 3);
      // One claim leased run 6; each result then claimed the next run, the last one found nothing.
      expect(ownServer.leasingClaims).toBe(1);
      expect(ownServer.submitted.map((s) => [s.runId, s.claimNext])).toEqual(
        [6, 7, 8].map((n) => [leasedRun(n).run_id, 1]),
      );
      // A proof's result carries no claim (its verification may take seconds): the claim loop claims.
      ownServer.queue.push({ ...leasedRun(9), task_type: 'zk_proof' }, leasedRun(5));
      await until(() => ownServer.submitted.length === 5);
      expect(ownServer.submitted.slice(3).map((s) => s.claimNext)).toEqual([undefined, 1]);
      expect(ownServer.leasingClaims).toBe(3);
    } finally {
      await one.stop(0);
    }
  });

  it('a slot frees when its run finished executing: the next run starts while the last result is unanswered', async () => {
    const ownServer = new FakeServer();
    const ownEngine = new FakeEngine();
    const one = oneSlotAgent(ownServer, ownEngine);
    // A server that predates Claim-Next: after its first answer without `next`, results carry no claim.
    ownServer.offersClaimNext = false;
    await one.start();
    try {
      ownServer.queue.push(leasedRun(5));
      await until(() => ownServer.submitted.length === 1);
      expect(ownServer.submitted[0].claimNext).toBe(1);
      // One slot: a run still executing keeps the next one waiting (negative control).
      ownEngine.hold = true;
      ownServer.queue.push(leasedRun(6), leasedRun(7), leasedRun(8));
      await until(() => ownEngine.started.length === 2);
      // Absence cannot be polled for: five claim waits (claimWaitMs 20) give a wrong claim time to happen.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(ownEngine.started).toHaveLength(2);
      // Its result unanswered, the slot is free again: run 7 executes; run 8 waits, one lease beyond the slot.
      ownServer.holdSubmits = true;
      ownEngine.hold = false;
      ownEngine.releaseAll();
      await until(() => ownEngine.started.length === 3);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(ownEngine.started).toHaveLength(3);
      expect(one.running).toBe(2);
      expect(ownServer.queue).toHaveLength(1);
      ownServer.releaseSubmits();
      await until(() => ownServer.submitted.length === 4);
      expect(ownServer.submitted.map((s) => [s.runId, s.claimNext])).toEqual(
        [5, 6, 7, 8].map((n) => [leasedRun(n).run_id, n === 5 ? 1 : undefined]),
      );
    } finally {
      await one.stop(0);
    }
  });

  it('stop: no more claims; running work finishes within the grace period and is reported', async () => {
    engine.hold = true;
    server.queue.push(leasedRun(4));
    await until(() => engine.started.length === 1);
    const stopped = sut.stop(5000);
    server.queue.push(leasedRun(5));
    engine.releaseAll();
    await stopped;
    expect(server.submitted.map((s) => s.runId)).toEqual([leasedRun(4).run_id]);
    expect(server.queue).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ event: 'stopped' });
  });
});
