import { FakeClock } from '../common/clock/fake-clock';
import type { Principal } from '../common/auth/principal';
import { Scope } from '../common/auth/scopes';
import type { DatabaseSession } from '../database/transaction-runner';
import type { VcpMetrics } from '../metrics/vcp-metrics';
import type { ControlPlaneClock } from '../outages/control-plane-clock';
import { HeartbeatService } from './heartbeat.service';
import type { HeartbeatResult, HeartbeatsRepository, HeartbeatWrite } from './heartbeats.repository';
import { NodesConfig } from './nodes.config';
import type { NodesRepository } from './nodes.repository';
import type { NodesService } from './nodes.service';

const agent = (nodeId: string): Principal => ({
  userId: '00000000-0000-4000-8000-000000000001',
  username: 'owner',
  role: 'user',
  scopes: [Scope.NodesAgent],
  authMethod: 'api_key',
  nodeId,
});

/** A repository whose writes finish when the test says so, recording every batch it was given. */
class ControlledWrites {
  readonly batches: HeartbeatWrite[][] = [];
  private releases: (() => void)[] = [];
  record = (beats: readonly HeartbeatWrite[]): Promise<HeartbeatResult[]> => {
    this.batches.push([...beats]);
    return new Promise((resolve) =>
      this.releases.push(() =>
        resolve(
          beats
            .filter((beat) => beat.nodeId !== 'gone')
            .map((beat) => ({
              nodeId: beat.nodeId,
              status: 'online',
              healthScore: 50,
              previousStatus: 'offline',
            })),
        ),
      ),
    );
  };
  release(): void {
    this.releases.shift()?.();
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('HeartbeatService group commit', () => {
  const config = new NodesConfig({
    heartbeatIntervalSecs: 15,
    offlineAfterSecs: 90,
    sweepIntervalMs: 15_000,
    historyIntervalSecs: 60,
    historyRetentionDays: 7,
    purgeAfterDays: 30,
    maxPerUser: 1000,
  });
  let writes: ControlledWrites;
  let sut: HeartbeatService;
  const backOnline = jest.fn();

  beforeEach(() => {
    writes = new ControlledWrites();
    const nodes = {
      comparedRuns: () => Promise.resolve({ runsValid: 0, runsInvalid: 0 }),
      findLive: () => Promise.resolve(null),
    } as unknown as NodesRepository;
    const metrics = { nodeHeartbeat: jest.fn(), nodeBackOnline: backOnline } as unknown as VcpMetrics;
    sut = new HeartbeatService(
      writes as unknown as HeartbeatsRepository,
      nodes,
      {} as NodesService,
      config,
      metrics,
      new FakeClock(),
      { settled: () => undefined } as unknown as ControlPlaneClock,
      { inTransaction: false } as DatabaseSession,
    );
  });

  it('writes the first heartbeat at once and batches those that arrive meanwhile into one statement', async () => {
    const first = sut.heartbeat(agent('a'), 'a', { cpu_usage: 10 });
    await tick();
    await tick();
    expect(writes.batches).toHaveLength(1);

    const queued = [
      sut.heartbeat(agent('a'), 'a', { cpu_usage: 30 }),
      sut.heartbeat(agent('a'), 'a', { memory_usage: 50 }),
      sut.heartbeat(agent('b'), 'b', {}),
    ];
    await tick();
    expect(writes.batches).toHaveLength(1); // still waiting for the first write
    writes.release();
    await first;
    await tick();
    await tick();
    expect(writes.batches).toHaveLength(2);
    const [a, b] = writes.batches[1];
    // Three heartbeats, two nodes: node a's two merge (latest telemetry wins, counts add up).
    expect(a).toMatchObject({ nodeId: 'a', cpuUsage: 30, memoryUsage: 50, count: 2 });
    expect(b).toMatchObject({ nodeId: 'b', cpuUsage: null, count: 1 });
    writes.release();
    const answers = await Promise.all(queued);
    expect(answers.map((answer) => answer.node_status)).toEqual(['online', 'online', 'online']);
    expect(backOnline).toHaveBeenCalledTimes(3);
  });

  it('answers 404 to the heartbeats of a node the write did not find', async () => {
    const gone = sut.heartbeat(agent('gone'), 'gone', {});
    await tick();
    await tick();
    writes.release();
    await expect(gone).rejects.toMatchObject({ code: 'not_found' });
  });
});
