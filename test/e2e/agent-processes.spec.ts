import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_MAIN, startAgent } from '../support/agent-process';
import { useAgentServer } from '../support/agent-server';
import { eventually } from '../support/eventually';
import { spinModule } from '../support/spin-module';

/** CI-sized; the 200: `AGENTS_TEST_TASKS=200 npx jest test/e2e/agent-processes.spec.ts`. */
const TASKS = Number(process.env.AGENTS_TEST_TASKS ?? 40);
/** About 0.2 s of work each here: long enough that a node is caught holding leases. */
const SPIN = 200_000_000;

/**
 * Issue 17, acceptance 2: with EMBEDDED_NODE=off, two agent processes (the built `npm run agent`) complete the
 * tasks between them against a server process on PostgreSQL; one killed with SIGKILL mid-run loses nothing:
 * its leases expire and its runs finish on the other.
 */
describe('two agent processes against a server process (PostgreSQL)', () => {
  const cluster = useAgentServer('operator', {
    RUN_LEASE_SECS: '5',
    SCHEDULER_SWEEP_INTERVAL_SECS: '1',
    TASK_RETRY_BASE_MS: '0',
  });
  const { api } = cluster;

  const leasedBy = async (nodeId: string) =>
    (
      await cluster.pg.query(
        `SELECT count(*)::int AS n FROM task_runs WHERE node_id = $1 AND status = 'leased'`,
        [nodeId],
      )
    ).rows[0].n as number;

  it(`complete ${TASKS} tasks between them; SIGKILL of one mid-run loses nothing`, async () => {
    const key = (await api('POST', '/api-keys', { name: 'agents', scopes: ['nodes:write', 'nodes:read'] }))
      .json.api_key as string;
    const module = spinModule(SPIN).toString('base64');
    const taskIds: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const res = await api('POST', '/tasks', {
        task_type: 'wasm_execution',
        wasm_module: module,
        inputs: { i },
        requirements: { min_nodes: 1, max_execution_time_sec: 30 },
      });
      expect(res.status).toBe(201);
      taskIds.push(res.json.task_id);
    }
    const start = (nodeId: string) => {
      const dataDir = cluster.tempDir();
      // Flags for the server and key, the environment for the rest: both spellings are the contract.
      const agent = startAgent(['--server', cluster.base, '--api-key', key, '--node-id', nodeId], {
        VCP_AGENT_DIR: dataDir,
        VCP_AGENT_CONCURRENCY: '2',
        VCP_REGION: 'test-region',
      });
      cluster.track(agent);
      return { agent, dataDir };
    };
    const a = start('agent-a');
    const b = start('agent-b');

    // Catch agent A holding leases: freeze it (SIGSTOP), confirm it still holds some, then SIGKILL it.
    await eventually(
      async () => {
        if ((await leasedBy('agent-a')) === 0) throw new Error('agent-a holds no lease yet');
        a.agent.child.kill('SIGSTOP');
        if ((await leasedBy('agent-a')) === 0) {
          a.agent.child.kill('SIGCONT');
          throw new Error('agent-a finished its runs before it stopped');
        }
      },
      { timeoutMs: 30_000, intervalMs: 5 },
    );
    const orphaned = await leasedBy('agent-a');
    a.agent.child.kill('SIGKILL');
    expect((await a.agent.exited).signal).toBe('SIGKILL');

    await eventually(
      async () => {
        const { rows } = await cluster.pg.query(
          `SELECT status, count(*)::int AS n FROM tasks WHERE task_id = ANY($1) GROUP BY status`,
          [taskIds],
        );
        if (rows.length !== 1 || rows[0].status !== 'completed') {
          const { rows: open } = await cluster.pg.query(
            `SELECT t.task_id, t.status, r.node_id, r.status AS run_status, r.outcome, r.stderr
               FROM tasks t LEFT JOIN task_runs r ON r.task_id = t.task_id
              WHERE t.task_id = ANY($1) AND t.status <> 'completed'`,
            [taskIds],
          );
          throw new Error(`not all completed: ${JSON.stringify(open)}`);
        }
        expect(rows).toEqual([{ status: 'completed', n: TASKS }]);
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    // A's leases expired and those tasks were finished by B.
    const { rows: expired } = await cluster.pg.query(
      `SELECT r.task_id, t.status,
              (SELECT count(*)::int FROM task_runs s WHERE s.task_id = r.task_id AND s.node_id = 'agent-b'
                 AND s.status = 'succeeded') AS by_b
         FROM task_runs r JOIN tasks t ON t.task_id = r.task_id
        WHERE r.node_id = 'agent-a' AND r.status = 'expired'`,
    );
    expect(expired.length).toBe(orphaned);
    for (const row of expired) expect(row).toMatchObject({ status: 'completed', by_b: 1 });
    const { rows: byNode } = await cluster.pg.query(
      `SELECT node_id, count(*)::int AS n FROM task_runs WHERE status = 'succeeded' GROUP BY node_id`,
    );
    expect(byNode.reduce((sum: number, row: { n: number }) => sum + row.n, 0)).toBe(TASKS);

    // Both registered themselves with a key pair of their own; the node key is kept private.
    const nodes = (await api('GET', '/nodes')).json.items as { node_id: string; public_key: string }[];
    expect(nodes.map((n) => n.node_id).sort()).toEqual(['agent-a', 'agent-b']);
    expect(nodes.every((n) => /^[A-Za-z0-9+/]{43}=$/.test(n.public_key))).toBe(true);
    expect(new Set(nodes.map((n) => n.public_key)).size).toBe(2);
    expect(statSync(join(b.dataDir, 'node.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(b.dataDir, 'node-key.pem')).mode & 0o777).toBe(0o600);

    // SIGTERM: B stops claiming and exits 0, its counters in the last line.
    b.agent.child.kill('SIGTERM');
    expect(await b.agent.exited).toEqual({ code: 0, signal: null });
    const events = b.agent.events();
    expect(events.find((e) => e.event === 'registered')).toMatchObject({ node_id: 'agent-b' });
    expect(events.filter((e) => e.event === 'claimed').length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ event: 'stopped' });
  }, 240_000);

  it('--print-public-key gives the key to register a node with before the agent ever ran; that node works', async () => {
    const dataDir = cluster.tempDir();
    const printKey = () =>
      execFileSync(process.execPath, [AGENT_MAIN, '--print-public-key', '--data-dir', dataDir], {
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
      }).trim();
    const publicKey = printKey();
    expect(publicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(printKey()).toBe(publicKey); // the same key pair, kept in the data dir
    expect(statSync(join(dataDir, 'node-key.pem')).mode & 0o777).toBe(0o600);

    // The owner registers the node with that key and hands the node key to the machine's operator.
    const registered = await api('POST', '/nodes', {
      node_id: 'pre-registered',
      region: 'test-region',
      node_type: 'compute',
      capabilities: { bandwidth_mbps: 100, cpu_cores: 2, memory_gb: 4, gpu_available: false },
      public_key: publicKey,
    });
    expect(registered.status).toBe(201);
    const agent = startAgent(
      ['--server', cluster.base, '--api-key', registered.json.node_api_key, '--node-id', 'pre-registered'],
      { VCP_AGENT_DIR: dataDir, VCP_AGENT_CONCURRENCY: '1' },
    );
    cluster.track(agent);
    const task = await api('POST', '/tasks', {
      task_type: 'computation',
      inputs: { program: 'expression', expression: '6*7' },
      requirements: { min_nodes: 1, max_execution_time_sec: 30 },
    });
    await eventually(
      async () => {
        const view = await api('GET', `/tasks/${task.json.task_id}`);
        expect(view.json).toMatchObject({ status: 'completed', assigned_nodes: ['pre-registered'] });
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(agent.events().find((e) => e.event === 'started')).toMatchObject({ public_key: publicKey });
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});
