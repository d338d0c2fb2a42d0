import { startAgent } from '../support/agent-process';
import { useAgentServer } from '../support/agent-server';
import { eventually } from '../support/eventually';
import { ORIGINAL_NODE, uniqueNodeId } from '../support/nodes';
import { fixture } from '../support/wasm';
import { generateNodeKeyPair } from '../../src/common/receipts/receipt';

/** Far longer than anything here waits: a run left to expire would keep its task for two minutes. */
const LEASE_SECS = 120;

/**
 * An agent stopped by SIGTERM with a run still executing past its grace period stops the run and hands it
 * back (POST /runs/:run_id/release): the task is queued again at once, its attempt not spent, where it used to
 * wait out the lease (RUN_LEASE_SECS) and count as a lost lease.
 */
describe('an agent stopped with a run still executing', () => {
  const cluster = useAgentServer('operator', { RUN_LEASE_SECS: String(LEASE_SECS) });
  const { api } = cluster;

  it('hands the run back as it exits: the task is claimable by another node at once', async () => {
    const key = (await api('POST', '/api-keys', { name: 'agents', scopes: ['nodes:write', 'nodes:read'] }))
      .json.api_key as string;
    const task = await api('POST', '/tasks', {
      task_type: 'wasm_execution',
      wasm_module: fixture('loop').toString('base64'),
      inputs: {},
      requirements: { min_nodes: 1, max_execution_time_sec: 600 },
    });
    expect(task.status).toBe(201);
    const taskId = task.json.task_id as string;
    const agent = cluster.track(
      startAgent(['--server', cluster.base, '--api-key', key, '--node-id', 'stopping', '--grace-secs', '1'], {
        VCP_AGENT_DIR: cluster.tempDir(),
      }),
    );
    await eventually(() => expect(agent.events().map((e) => e.event)).toContain('claimed'), {
      timeoutMs: 30_000,
    });

    agent.child.kill('SIGTERM');
    const exit = await Promise.race([
      agent.exited,
      new Promise((resolve) => setTimeout(() => resolve('still running 15 s later'), 15_000).unref()),
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(agent.events().filter((e) => e.event === 'released')).toEqual([
      expect.objectContaining({ task_id: taskId }),
    ]);

    const { rows: runs } = await cluster.pg.query(
      `SELECT node_id, status, outcome FROM task_runs WHERE task_id = $1`,
      [taskId],
    );
    expect(runs).toEqual([{ node_id: 'stopping', status: 'expired', outcome: 'released' }]);
    const { rows: tasks } = await cluster.pg.query(`SELECT status, attempts FROM tasks WHERE task_id = $1`, [
      taskId,
    ]);
    expect(tasks).toEqual([{ status: 'pending', attempts: 0 }]);

    // Another node claims it now, not a lease later.
    const node = await api('POST', '/nodes', {
      ...ORIGINAL_NODE,
      node_id: uniqueNodeId('taker'),
      public_key: generateNodeKeyPair().publicKeyBase64,
    });
    expect(node.status).toBe(201);
    const { node_id: takerId, node_api_key: takerKey } = node.json as {
      node_id: string;
      node_api_key: string;
    };
    let claimed: { task_id: string }[] = [];
    await eventually(
      async () => {
        const claim = await api('POST', `/nodes/${takerId}/claim`, { max: 1, wait_ms: 1_000 }, takerKey);
        claimed = claim.status === 200 ? (claim.json.runs as { task_id: string }[]) : [];
        expect(claimed.map((run) => run.task_id)).toEqual([taskId]);
      },
      { timeoutMs: 10_000 },
    );
  }, 120_000);
});
