import { startAgent } from '../support/agent-process';
import { useAgentServer } from '../support/agent-server';
import { eventually } from '../support/eventually';
import { fixture } from '../support/wasm';

/** Not a multiple of 3 s: a third of it is a fraction of a millisecond, which a heartbeat must still get through. */
const LEASE_SECS = 4;
/** Over two leases: only heartbeats keep the run's lease alive that long. */
const SLEEP_NS = 9_000_000_000;

/**
 * A run longer than its lease, through the built agent (`npm run agent`) against a server process: its
 * heartbeats renew the lease, so the run completes on its first attempt. Short runs never needed a renewal,
 * and so missed a heartbeat that never went out (a timeout of 1333.33… ms, refused by AbortSignal.timeout).
 */
describe('an agent running a task longer than its lease', () => {
  const cluster = useAgentServer('operator', { RUN_LEASE_SECS: String(LEASE_SECS) });
  const { api } = cluster;

  it('renews the lease with heartbeats: one run, succeeded, the task completed', async () => {
    const key = (await api('POST', '/api-keys', { name: 'agents', scopes: ['nodes:write', 'nodes:read'] }))
      .json.api_key as string;
    const task = await api('POST', '/tasks', {
      task_type: 'wasm_execution',
      wasm_module: fixture('sleep').toString('base64'),
      args: [String(SLEEP_NS)],
      inputs: {},
      requirements: { min_nodes: 1, max_execution_time_sec: 60 },
    });
    expect(task.status).toBe(201);
    const taskId = task.json.task_id as string;
    const agent = cluster.track(
      startAgent(['--server', cluster.base, '--api-key', key, '--node-id', 'long-runner'], {
        VCP_AGENT_DIR: cluster.tempDir(),
      }),
    );
    await eventually(
      async () => expect((await api('GET', `/tasks/${taskId}`)).json.status).toMatch(/completed|failed/),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const { rows: runs } = await cluster.pg.query(
      `SELECT node_id, status, outcome FROM task_runs WHERE task_id = $1`,
      [taskId],
    );
    expect(runs).toEqual([{ node_id: 'long-runner', status: 'succeeded', outcome: 'ok' }]);
    expect((await api('GET', `/tasks/${taskId}`)).json.status).toBe('completed');
    expect(agent.events().filter((e) => e.event === 'network_error')).toEqual([]);
  }, 120_000);
});
