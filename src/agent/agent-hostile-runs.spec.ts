import { FakeEngine, FakeServer, leasedRun, testAgent, until } from '../../test/support/agent-fakes';
import type { Agent } from './agent';
import type { AgentEvent } from './reporter';
import type { LeasedRun } from './transport';

/** Claim answers a buggy or hostile server may give: runs twice over, runs without their fields, absurd limits. */
describe('Agent given runs it should not trust', () => {
  let server: FakeServer;
  let engine: FakeEngine;
  let events: AgentEvent[];
  let sut: Agent;

  beforeEach(async () => {
    server = new FakeServer();
    engine = new FakeEngine();
    events = [];
    sut = testAgent({
      concurrency: 2,
      transport: server,
      engine,
      reporter: { emit: (event) => events.push(event) },
    });
    await sut.start();
  });

  afterEach(() => sut.stop(0));

  const ignored = () => events.filter((e) => e.event === 'ignored');

  it('runs a run once when a claim names it twice', async () => {
    server.queue.push(leasedRun(1), leasedRun(1));
    await until(() => server.submitted.length === 1 && ignored().length === 1);
    await sut.stop(0);
    expect(engine.started).toHaveLength(1);
    expect(server.submitted).toHaveLength(1);
    expect(ignored()[0]).toMatchObject({
      run_id: leasedRun(1).run_id,
      message: 'it is running here already',
    });
    expect(sut.counters.claimed).toBe(1);
    // Releasing the duplicate would end the lease of the run it executed.
    expect(server.released).toEqual([]);
  });

  it('does not start a run it holds again when a later claim leases it anew', async () => {
    engine.hold = true;
    server.queue.push(leasedRun(2));
    await until(() => engine.started.length === 1);
    server.queue.push(leasedRun(2));
    await until(() => ignored().length === 1);
    expect(sut.running).toBe(1);
    expect(server.released).toEqual([]);
    engine.releaseAll();
    await until(() => server.submitted.length === 1);
    // The slot it would have taken is free: the next run is claimed and runs.
    engine.hold = false;
    server.queue.push(leasedRun(3));
    await until(() => server.submitted.length === 2);
    expect(engine.started).toHaveLength(2);
  });

  it('ignores a run it could neither run nor report (no id, fence or spec), and goes on', async () => {
    const noSpec = { ...leasedRun(4), spec: undefined };
    const noFence = { ...leasedRun(5), fence: 7 };
    server.queue.push(
      null as unknown as LeasedRun,
      noSpec as unknown as LeasedRun,
      noFence as unknown as LeasedRun,
    );
    server.queue.push(leasedRun(6));
    await until(() => server.submitted.length === 1 && ignored().length === 3);
    expect(server.submitted[0].runId).toBe(leasedRun(6).run_id);
    expect(ignored().map((e) => e.message)).toEqual([
      'the server leased it without a run_id, task_id, fence or spec',
      'the server leased it without a run_id, task_id, fence or spec',
      'the server leased it without a run_id, task_id, fence or spec',
    ]);
    expect(engine.started).toHaveLength(1);
    // The one it can name (run_id and fence) is handed back at once, not left to wait out its lease.
    expect(server.released).toEqual([{ runId: leasedRun(4).run_id, fence: leasedRun(4).fence }]);
    expect(events).toContainEqual(
      expect.objectContaining({
        event: 'released',
        run_id: leasedRun(4).run_id,
        task_id: leasedRun(4).task_id,
      }),
    );
  });

  it('says so when an ignored run cannot be handed back, leaves it to expire and goes on', async () => {
    server.release = () => Promise.reject(new Error('POST /runs/x/release: 409 lease_lost'));
    server.queue.push({ ...leasedRun(7), task_id: undefined } as unknown as LeasedRun, leasedRun(8));
    await until(() => server.submitted.length === 1 && events.some((e) => e.event === 'release_failed'));
    expect(events.find((e) => e.event === 'release_failed')).toEqual({
      event: 'release_failed',
      run_id: leasedRun(7).run_id,
      message: 'POST /runs/x/release: 409 lease_lost: its lease expires on the server',
    });
    expect(server.submitted[0].runId).toBe(leasedRun(8).run_id);
  });

  it('hands back no ignored run whose run_id is no UUID or whose fence is no fence', async () => {
    server.queue.push(
      { ...leasedRun(1), run_id: '../../nodes/n2/keys', spec: undefined } as unknown as LeasedRun,
      { ...leasedRun(2), fence: '-1', spec: undefined } as unknown as LeasedRun,
      leasedRun(3),
    );
    await until(() => server.submitted.length === 1 && ignored().length === 2);
    await sut.stop(0);
    expect(server.released).toEqual([]);
  });

  it('holds a timeout past the most a server allows (1 h) to 1 h, and refuses limits that are no limits', async () => {
    const withLimits = (n: number, limits: unknown): LeasedRun => {
      const run = leasedRun(n);
      return { ...run, spec: { ...run.spec, limits: limits as LeasedRun['spec']['limits'] } };
    };
    server.queue.push(withLimits(1, { timeout_ms: 1e12, memory_mb: 1e9, output_bytes: 65536 }));
    await until(() => server.submitted.length === 1);
    expect(engine.started[0]).toMatchObject({ timeoutMs: 3_600_000 });
    server.queue.push(
      withLimits(2, { timeout_ms: 1000, memory_mb: 64, output_bytes: -1 }),
      withLimits(3, { timeout_ms: null, memory_mb: 64, output_bytes: 1024 }),
      withLimits(4, undefined),
    );
    await until(() => server.submitted.length === 4);
    expect(engine.started).toHaveLength(1);
    for (const { body } of server.submitted.slice(1)) {
      expect(body).toMatchObject({ outcome: 'error' });
      expect(body.stderr).toMatch(/^the server's limits for this run are not positive whole numbers: /);
    }
  });

  it('never runs module bytes that do not hash to the module id, nor keeps them: each run downloads anew', async () => {
    let downloads = 0;
    server.module = () => {
      downloads++;
      return Promise.resolve(Buffer.from('other bytes than the id names'));
    };
    server.queue.push(leasedRun(1));
    await until(() => server.submitted.length === 1);
    server.queue.push(leasedRun(2));
    await until(() => server.submitted.length === 2);
    expect(engine.started).toEqual([]);
    expect(downloads).toBe(2);
    for (const { body } of server.submitted) {
      expect(body).toMatchObject({ outcome: 'error' });
      expect(body.stderr).toMatch(/^the downloaded content does not hash to [0-9a-f]{64}$/);
    }
  });
});
