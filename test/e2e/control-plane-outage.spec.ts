import { startAgent } from '../support/agent-process';
import { useAgentServer } from '../support/agent-server';
import { eventually } from '../support/eventually';
import { spinModule } from '../support/spin-module';

const LEASE_SECS = 3;
const OFFLINE_AFTER_SECS = 3;
/** Longer than a lease and than a node's time to heartbeat: without the credit, both would end on resume. */
const PAUSE_MS = (LEASE_SECS + OFFLINE_AFTER_SECS + 1) * 1000;

/**
 * The control plane itself goes away (the only replica is paused with SIGSTOP) for longer than a lease while an
 * agent runs a task. The run finishes during the pause; on resume its result is accepted on its first lease,
 * and the node is not marked offline: the outage is credited to the lease and to the node, not charged to them.
 */
describe('an outage of the control plane (the server paused past a lease)', () => {
  const cluster = useAgentServer('operator', {
    RUN_LEASE_SECS: String(LEASE_SECS),
    SCHEDULER_SWEEP_INTERVAL_SECS: '1',
    NODE_HEARTBEAT_INTERVAL_SECS: '1',
    NODE_OFFLINE_AFTER_SECS: String(OFFLINE_AFTER_SECS),
    NODE_SWEEP_INTERVAL_SECS: '1',
    OUTAGE_CREDIT_AFTER_SECS: '2',
    TASK_RETRY_BASE_MS: '0',
  });
  const { api } = cluster;

  it('accepts the result of a run that finished meanwhile, on its first lease, and keeps the node online', async () => {
    const key = (await api('POST', '/api-keys', { name: 'agent', scopes: ['nodes:write', 'nodes:read'] }))
      .json.api_key as string;
    const agent = cluster.track(
      startAgent(['--server', cluster.base, '--api-key', key, '--node-id', 'worker'], {
        VCP_AGENT_DIR: cluster.tempDir(),
        VCP_AGENT_CONCURRENCY: '1',
      }),
    );
    const module = spinModule(2_000_000_000).toString('base64');
    const submit = async (i: number) => {
      const res = await api('POST', '/tasks', {
        task_type: 'wasm_execution',
        wasm_module: module,
        inputs: { i },
        requirements: { min_nodes: 1, max_execution_time_sec: 60 },
      });
      expect(res.status).toBe(201);
      return res.json.task_id as string;
    };
    const completed = (taskId: string) =>
      eventually(async () => expect((await api('GET', `/tasks/${taskId}`)).json.status).toBe('completed'), {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
    // A first task puts the module in the agent's cache, so the next run needs nothing from the paused server.
    await completed(await submit(0));

    const taskId = await submit(1);
    await eventually(
      async () => {
        const { rows } = await cluster.pg.query(
          `SELECT 1 FROM task_runs WHERE task_id = $1 AND status = 'leased'`,
          [taskId],
        );
        expect(rows).toHaveLength(1);
      },
      { timeoutMs: 30_000, intervalMs: 5 },
    );
    const pausedAt = Date.now();
    cluster.signalServer('SIGSTOP');
    const finishedOf = () => agent.events().filter((e) => e.event === 'finished' && e.task_id === taskId);
    try {
      // The run ends while the server is paused (its result cannot be delivered yet)...
      await eventually(() => expect(finishedOf()).toHaveLength(1), {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
      // ...and the pause outlasts the lease and the node's time to heartbeat.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, pausedAt + PAUSE_MS - Date.now())));
    } finally {
      cluster.signalServer('SIGCONT');
    }

    await completed(taskId);
    const { rows: runs } = await cluster.pg.query(
      `SELECT status, outcome, attempt, completed_at >= to_timestamp($2 / 1000.0) AS after_pause
         FROM task_runs WHERE task_id = $1`,
      [taskId, pausedAt + PAUSE_MS],
    );
    expect(runs).toEqual([{ status: 'succeeded', outcome: 'ok', attempt: 1, after_pause: true }]);
    const { rows: node } = await cluster.pg.query(`SELECT status FROM nodes WHERE node_id = 'worker'`);
    expect(node).toEqual([{ status: 'online' }]);
    // Counted once, in the clock row every replica reads back (vcp_control_plane_outages_credited_total), and logged once.
    const { rows: clock } = await cluster.pg.query(
      `SELECT outages_credited::int AS n FROM control_plane_clock`,
    );
    expect(clock).toEqual([{ n: 1 }]);
    const log = cluster.serverOutput();
    expect(log.split('the control plane was away')).toHaveLength(2);
    expect(log).not.toContain('nodes went offline');
    expect(log).not.toContain('leases expired');
    expect(agent.events().filter((e) => e.event === 'dropped')).toEqual([]);
  }, 120_000);
});
