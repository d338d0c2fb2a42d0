import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_MAIN, startAgent } from '../support/agent-process';
import { useAgentServer } from '../support/agent-server';

/**
 * Agent processes set up so that they cannot work (a key pair the node did not register, a node without a
 * public key, a deleted node, no key at all): each exits at once with a line saying what to do, instead of
 * leasing runs bound to expire.
 */
describe('agent processes that cannot work (PostgreSQL)', () => {
  const cluster = useAgentServer('operator', {
    RUN_LEASE_SECS: '5',
    SCHEDULER_SWEEP_INTERVAL_SECS: '1',
    TASK_RETRY_BASE_MS: '0',
  });
  const { api, tempDir } = cluster;

  const publicKeyOf = (dataDir: string) =>
    execFileSync(process.execPath, [AGENT_MAIN, '--print-public-key', '--data-dir', dataDir], {
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    }).trim();
  const register = async (nodeId: string, publicKey?: string) => {
    const res = await api('POST', '/nodes', {
      node_id: nodeId,
      region: 'test-region',
      node_type: 'compute',
      capabilities: { bandwidth_mbps: 100, cpu_cores: 2, memory_gb: 4, gpu_available: false },
      ...(publicKey ? { public_key: publicKey } : {}),
    });
    expect(res.status).toBe(201);
    return res.json.node_api_key as string;
  };
  const run = (args: string[], dataDir: string) => {
    const agent = startAgent(['--server', cluster.base, ...args], {
      VCP_AGENT_DIR: dataDir,
      VCP_AGENT_CONCURRENCY: '1',
    });
    return cluster.track(agent);
  };

  it('a key pair other than the registered one: the first refused result ends it (78), no attempt spent', async () => {
    const nodeKey = await register('lost-key', publicKeyOf(tempDir()));
    const dataDir = tempDir(); // its own key pair, as after a lost data dir
    const task = await api('POST', '/tasks', {
      task_type: 'computation',
      inputs: { program: 'expression', expression: '6*7' },
      requirements: { min_nodes: 1, max_execution_time_sec: 30 },
      max_attempts: 3,
    });
    expect(task.status).toBe(201);
    const agent = run(['--api-key', nodeKey, '--node-id', 'lost-key'], dataDir);
    expect(await agent.exited).toEqual({ code: 78, signal: null });
    const exitedLine = agent.events().at(-1);
    expect(exitedLine).toMatchObject({ event: 'exited', code: 78 });
    const message = String(exitedLine?.message);
    expect(message).toContain("node lost-key's results");
    expect(message).toContain(join(dataDir, 'node-key.pem'));
    expect(message).toContain('register it again');
    const { rows } = await cluster.pg.query(
      `SELECT status, outcome FROM task_runs WHERE node_id = 'lost-key'`,
    );
    // The refusal gave the lease back (the 422 followed its commit): no lease to wait out, no attempt charged.
    expect(rows).toEqual([{ status: 'expired', outcome: 'signature_invalid' }]);
    const view = await api('GET', `/tasks/${task.json.task_id}`);
    expect(view.json).toMatchObject({ status: 'pending', attempts: 0 });
  }, 60_000);

  it('a node registered without a public key: the first refused claim ends it (78)', async () => {
    const nodeKey = await register('keyless');
    const agent = run(['--api-key', nodeKey, '--node-id', 'keyless'], tempDir());
    expect(await agent.exited).toEqual({ code: 78, signal: null });
    expect(agent.events().filter((e) => e.event === 'refused')).toHaveLength(1);
    expect(String(agent.events().at(-1)?.message)).toContain('node keyless registered no public key');
  }, 60_000);

  it('a stored key of a deleted node: exit 78 naming the node in the way out', async () => {
    const keyDir = tempDir();
    const nodeKey = await register('deleted', publicKeyOf(keyDir));
    expect((await api('DELETE', '/nodes/deleted')).status).toBeLessThan(300);
    writeFileSync(join(keyDir, 'node.json'), JSON.stringify({ node_id: 'deleted', node_api_key: nodeKey }));
    const agent = run([], keyDir); // no --api-key: the stored node key is used
    expect(await agent.exited).toEqual({ code: 78, signal: null });
    const message = String(agent.events().at(-1)?.message);
    expect(message).toContain('POST /api/v1/nodes/deleted/keys');
    expect(message).not.toContain('<node_id>');
  }, 60_000);

  it('no --api-key and no node stored: a usage error (64), and nothing written to the data dir', async () => {
    const dataDir = join(tempDir(), 'fresh');
    const agent = run([], dataDir);
    expect(await agent.exited).toEqual({ code: 64, signal: null });
    expect(agent.output()).toContain('--api-key (VCP_API_KEY) is required');
    expect(agent.output()).toContain('usage: npm run agent');
    expect(existsSync(dataDir)).toBe(false);
  });
});
