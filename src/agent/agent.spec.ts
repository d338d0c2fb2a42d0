import { jsonSha256Hex } from '../common/crypto/json-hash';
import { generateNodeKeyPair, RunReceipt, verifyReceipt } from '../common/receipts/receipt';
import {
  FakeEngine,
  FakeServer,
  leasedRun,
  MODULE_ID,
  oneSlotAgent,
  startSharedAgent,
  testAgent,
  until,
} from '../../test/support/agent-fakes';
import { Agent } from './agent';
import type { AgentEvent } from './reporter';

/** Runs, slots and leases: what the agent claims, executes and reports (server trouble: agent-retries.spec.ts). */
describe('Agent', () => {
  let server: FakeServer;
  let engine: FakeEngine;
  let events: AgentEvent[];
  let sut: Agent;
  const keys = generateNodeKeyPair();

  beforeEach(async () => {
    ({ server, engine, events, sut } = await startSharedAgent(keys));
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

  it('counts a run the server rejected (a proof that did not verify) as failed, not succeeded', async () => {
    server.submitAnswers = [{ accepted: true, taskStatus: 'pending', runStatus: 'rejected' }];
    server.queue.push(leasedRun(7));
    await until(() => sut.counters.submitted === 1);
    expect(sut.counters).toMatchObject({ succeeded: 0, failed: 1 });
    expect(events.find((e) => e.event === 'submitted')).toMatchObject({ run_status: 'rejected' });
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

  it('stop: runs leased by a result answered after the stop began are handed back, never started', async () => {
    const ownServer = new FakeServer();
    const ownEngine = new FakeEngine();
    const one = oneSlotAgent(ownServer, ownEngine);
    await one.start();
    ownServer.holdSubmits = true;
    ownServer.queue.push(leasedRun(5));
    await until(() => ownServer.submitsWaiting === 1);
    ownServer.queue.push(leasedRun(6));
    const stopped = one.stop(5000);
    ownServer.releaseSubmits(); // run 5's result (Claim-Next: 1) is answered with run 6, after the stop began
    await stopped;
    expect(ownServer.submitted.map((s) => [s.runId, s.claimNext])).toEqual([[leasedRun(5).run_id, 1]]);
    expect(ownEngine.started).toHaveLength(1);
    expect(ownServer.released).toEqual([{ runId: leasedRun(6).run_id, fence: leasedRun(6).fence }]);
  });

  it.each([
    [
      'refused',
      () => Promise.reject(new Error('POST /runs/x/release: 409 lease_lost')),
      'POST /runs/x/release: 409 lease_lost',
    ],
    ['unanswered', () => new Promise<void>(() => undefined), 'no answer within 2 s'],
  ])(
    'stop: a hand-back %s is said in one release_failed line, before the last line (stopped)',
    async (_how, release, why) => {
      server.release = release;
      engine.hold = true;
      server.queue.push(leasedRun(4));
      await until(() => engine.started.length === 1);
      await sut.stop(0);
      const lines = events.map((e) => e.event);
      expect(events.filter((e) => e.event === 'release_failed')).toEqual([
        {
          event: 'release_failed',
          run_id: leasedRun(4).run_id,
          message: `${why}: its lease expires on the server`,
        },
      ]);
      expect(lines.at(-1)).toBe('stopped');
      expect(lines).not.toContain('released');
    },
  );

  it('stop: a run still executing after the grace period is stopped, unreported, and handed back; a result on its way is not', async () => {
    server.holdSubmits = true;
    server.queue.push(leasedRun(3));
    await until(() => events.some((e) => e.event === 'finished'));
    engine.hold = true;
    server.queue.push(leasedRun(4));
    await until(() => engine.started.length === 2);
    const stopped = sut.stop(50);
    try {
      await until(() => engine.aborted.length === 1);
      await until(() => server.released.length > 0);
    } finally {
      server.releaseSubmits();
    }
    await stopped;
    expect(server.released).toEqual([{ runId: leasedRun(4).run_id, fence: leasedRun(4).fence }]);
    expect(server.submitted.map((s) => s.runId)).toEqual([leasedRun(3).run_id]);
    expect(events.filter((e) => e.event === 'released')).toEqual([
      expect.objectContaining({ run_id: leasedRun(4).run_id }),
    ]);
  });

  it('stop: a result a hung server never answers is given up after the hand-back wait, and its run handed back', async () => {
    server.holdSubmits = true; // never released: the server took the request and hangs
    server.queue.push(leasedRun(5));
    await until(() => server.submitsWaiting === 1);
    // Without giving it up, the stop would wait for an answer that never comes (over HTTP: the request's 30 s).
    await sut.stop(50);
    expect(server.released).toEqual([{ runId: leasedRun(5).run_id, fence: leasedRun(5).fence }]);
    expect(events.filter((e) => e.event === 'dropped')).toEqual([
      expect.objectContaining({ run_id: leasedRun(5).run_id, reason: 'shutdown' }),
    ]);
    expect(events.filter((e) => e.event === 'released')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ event: 'stopped' });
  });
});
