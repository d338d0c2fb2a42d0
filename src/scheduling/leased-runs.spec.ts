import type { ClaimedRun } from './claims.repository';
import { LeasedRuns } from './leased-runs';

const claimed = (runId: string, overrides: Partial<ClaimedRun> = {}): ClaimedRun => ({
  runId,
  taskId: `task-of-${runId}`,
  taskType: 'computation',
  fence: '7',
  leaseExpiresAt: new Date(),
  inputs: {},
  args: [],
  deterministic: true,
  moduleId: 'a'.repeat(64),
  circuitId: null,
  maxExecutionTimeSec: 60,
  inputsHash: 'b'.repeat(64),
  nodePublicKey: 'key',
  completesAlone: true,
  replayed: false,
  ...overrides,
});

describe('LeasedRuns', () => {
  it('hands a leased run’s facts out once', () => {
    const runs = new LeasedRuns();
    runs.remember('node-1', [claimed('r1')]);
    expect(runs.take('r1')).toEqual({
      runId: 'r1',
      taskId: 'task-of-r1',
      nodeId: 'node-1',
      fence: '7',
      taskType: 'computation',
      inputsHash: 'b'.repeat(64),
      moduleHash: 'a'.repeat(64),
      circuitId: null,
      nodePublicKey: 'key',
      completesAlone: true,
    });
    expect(runs.take('r1')).toBeUndefined();
  });

  it('keeps at most its capacity, forgetting the oldest first', () => {
    const runs = new LeasedRuns(2);
    runs.remember('node-1', [claimed('r1'), claimed('r2')]);
    runs.remember('node-1', [claimed('r3')]);
    expect(runs.size).toBe(2);
    expect(runs.take('r1')).toBeUndefined();
    expect(runs.take('r2')?.runId).toBe('r2');
    expect(runs.take('r3')?.runId).toBe('r3');
  });

  it('keeps nothing for a node without a key or for a zk_proof run (their results always read the run)', () => {
    const runs = new LeasedRuns();
    runs.remember('node-1', [
      claimed('r1', { nodePublicKey: null }),
      claimed('r2', { taskType: 'zk_proof' }),
    ]);
    expect(runs.size).toBe(0);
  });
});
