import { AgentProcess, startAgent } from '../support/agent-process';
import { useAgentServer } from '../support/agent-server';
import { eventually } from '../support/eventually';

/**
 * A node key rotated with a grace period: the agent (the built `npm run agent`) reads the server's Sunset on
 * its answers and says when its key stops working and how to replace it — once, not per request — while it
 * goes on working; restarted with the new key, it has nothing to say.
 */
describe('an agent whose node key is rotated with grace (server process, PostgreSQL)', () => {
  // Heartbeats every second: the first one after the rotation carries the news.
  const cluster = useAgentServer('rotator', { NODE_HEARTBEAT_INTERVAL_SECS: '1' });
  const { api } = cluster;

  const start = (key: string, dataDir: string) => {
    const agent = startAgent(['--server', cluster.base, '--node-id', 'sunset-node'], {
      VCP_API_KEY: key,
      VCP_AGENT_DIR: dataDir,
      VCP_AGENT_CONCURRENCY: '1',
    });
    return cluster.track(agent);
  };
  const completedBy = async (agent: AgentProcess) => {
    const task = await api('POST', '/tasks', {
      task_type: 'computation',
      inputs: { program: 'expression', expression: '6*7' },
      requirements: { min_nodes: 1, max_execution_time_sec: 30 },
    });
    expect(task.status).toBe(201);
    await eventually(
      async () => {
        const view = await api('GET', `/tasks/${task.json.task_id}`);
        expect(view.json).toMatchObject({ status: 'completed', assigned_nodes: ['sunset-node'] });
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await eventually(() => {
      expect(agent.events()).toContainEqual(
        expect.objectContaining({ event: 'submitted', task_id: task.json.task_id }),
      );
    });
  };
  const sunsets = (agent: AgentProcess) => agent.events().filter((e) => e.event === 'key_sunset');

  it('says once when the key ends and the way out, keeps working, and is quiet with the new key', async () => {
    const userKey = (await api('POST', '/api-keys', { name: 'agent', scopes: ['nodes:write', 'nodes:read'] }))
      .json.api_key as string;
    const dataDir = cluster.tempDir();
    const first = start(userKey, dataDir);
    await eventually(() => expect(first.events().map((e) => e.event)).toContain('started'), {
      timeoutMs: 30_000,
    });

    const rotated = await api('POST', '/nodes/sunset-node/keys', { grace_seconds: 3600 });
    expect(rotated.status).toBe(201);
    const {
      key_id: successorId,
      node_api_key: successorKey,
      previous_key_expires_at: graceEnd,
    } = rotated.json;
    await eventually(() => expect(sunsets(first)).toHaveLength(1), { timeoutMs: 15_000 });
    const [said] = sunsets(first);
    expect(said).toEqual({
      time: expect.any(String),
      event: 'key_sunset',
      node_id: 'sunset-node',
      // The stored grace end, to the second (an HTTP-date has no finer unit).
      sunset: new Date(Math.floor(Date.parse(graceEnd as string) / 1000) * 1000).toISOString(),
      in_secs: expect.any(Number),
      replaced_by: successorId,
      hint: expect.stringContaining('POST /api/v1/nodes/sunset-node/keys'),
    });
    expect(said.in_secs).toBeGreaterThan(3500);
    expect(said.in_secs).toBeLessThanOrEqual(3600);
    expect(said.hint).toContain('--api-key or VCP_API_KEY');

    // It goes on working with the old key; many more answers carried the header, and it said nothing more.
    await completedBy(first);
    expect(sunsets(first)).toHaveLength(1);
    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });

    // The way out it named: the new key, given to the agent, replaces the stored one.
    const second = start(successorKey as string, dataDir);
    await eventually(() => expect(second.events().map((e) => e.event)).toContain('started'), {
      timeoutMs: 30_000,
    });
    await completedBy(second);
    expect(second.events().filter((e) => e.event === 'key_sunset')).toEqual([]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  }, 120_000);
});
