import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { Agent } from '../../src/agent/agent';
import { ContentCache } from '../../src/agent/content-cache';
import { Fetch, HttpTransport } from '../../src/agent/http-transport';
import { resolveIdentity } from '../../src/agent/identity';
import type { AgentEvent } from '../../src/agent/reporter';
import { WasmService } from '../../src/wasm/wasm.service';
import { bootApp } from './app';
import { bearer, newSession } from './auth';
import { createTestEnv } from './databases';
import { eventually } from './eventually';
import { submitTask } from './tasks';
import { fixture } from './wasm';

/**
 * Short leases and a fast sweep, so that a lease an agent never learned about ends within seconds (the
 * negative control); no retry backoff, so requeued tasks run again at once.
 */
const ENV = { RUN_LEASE_SECS: '4', SCHEDULER_SWEEP_INTERVAL_SECS: '1', TASK_RETRY_BASE_MS: '0' };
const NODES = ['replay-a', 'replay-b'];
const REQUIREMENTS = { min_nodes: 1, max_execution_time_sec: 30 };
const QUORUM = { min_nodes: 2, max_execution_time_sec: 30 };

/**
 * The fixed set of tasks, each deterministic in its outcome and in what it does to the nodes' records with
 * two nodes of distinct owners: single-node programs (any node), quorum tasks (run on both: one valid
 * verdict each), a trapping module (both nodes trap: `unexecutable`, no record change) and a module that
 * prints past the output cap (`output_limit`, a node fault: an `error` on each node, then `attempts_exhausted`).
 */
function tasks(): Record<string, unknown>[] {
  const echo = fixture('echo').toString('base64');
  return [
    ...['1+2', '6*7', '7/3', '10-4*2'].map((expression) => ({
      task_type: 'computation',
      inputs: { program: 'expression', expression },
      requirements: REQUIREMENTS,
    })),
    ...[1, 2].map((q) => ({
      task_type: 'wasm_execution',
      wasm_module: echo,
      inputs: { quorum: q },
      requirements: QUORUM,
    })),
    {
      task_type: 'computation',
      inputs: { program: 'monte_carlo_pi', samples: 20_000, seed: 7 },
      requirements: QUORUM,
    },
    {
      task_type: 'wasm_execution',
      wasm_module: fixture('trap').toString('base64'),
      inputs: { trap: true },
      requirements: REQUIREMENTS,
    },
    {
      task_type: 'wasm_execution',
      wasm_module: fixture('flood').toString('base64'),
      inputs: { flood: true },
      requirements: REQUIREMENTS,
      max_attempts: 2,
    },
  ];
}

export type Sender = 'direct' | Fetch;

export interface Snapshot {
  tasks: unknown[];
  nodes: unknown[];
  leasedRuns: number;
}

/**
 * The final database state that matters, with what differs between any two runs of the scenario left out
 * (ids, fences, times, which node ran a single-node task, telemetry): per task its status, result, attempts,
 * its runs (status, outcome, verdict, output hash) and its events; per node its record of runs and its live
 * keys; and the runs still leased.
 */
export async function snapshot(ds: DataSource): Promise<Snapshot> {
  const tasks = await ds.query(
    `SELECT t.task_type, t.inputs, t.status, t.status_reason, t.attempts, t.result,
            (SELECT c.output_hash FROM task_runs c WHERE c.run_id = t.canonical_run_id) AS canonical_output_hash,
            (SELECT json_agg(json_build_object('status', r.status, 'outcome', r.outcome, 'verdict', r.verdict,
                                               'output_hash', r.output_hash)
                             ORDER BY r.status, r.outcome, r.verdict, r.output_hash)
               FROM task_runs r WHERE r.task_id = t.task_id) AS runs,
            (SELECT json_agg(json_build_object('type', e.event_type, 'status', e.data->>'status',
                                               'reason', e.data->>'status_reason', 'outcome', e.data->>'outcome')
                             ORDER BY e.event_type, e.data->>'status', e.data->>'status_reason',
                                      e.data->>'outcome')
               FROM task_events e WHERE e.task_id = t.task_id) AS events
       FROM tasks t ORDER BY t.task_type, t.inputs_hash`,
  );
  const nodes = await ds.query(
    `SELECT n.node_id, n.status, n.runs_valid, n.runs_invalid, n.runs_error, n.runs_lost, n.valid_streak,
            n.quarantined_at IS NOT NULL AS quarantined,
            (SELECT count(*)::int FROM api_keys k WHERE k.node_id = n.node_id AND k.revoked_at IS NULL) AS live_keys
       FROM nodes n ORDER BY n.node_id`,
  );
  const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM task_runs WHERE status = 'leased'`);
  return { tasks, nodes, leasedRuns: n };
}

/**
 * Nothing more can happen: no run is leased, and every open task has been run by every node already (a
 * node never runs a task twice), so neither node can claim it again.
 */
async function settled(ds: DataSource): Promise<void> {
  const [row] = await ds.query(
    `SELECT (SELECT count(*)::int FROM task_runs WHERE status = 'leased') AS leased,
            (SELECT count(*)::int FROM tasks t
              WHERE t.status IN ('pending', 'running')
                AND EXISTS (SELECT 1 FROM unnest($1::varchar[]) AS n(node_id)
                             WHERE NOT EXISTS (SELECT 1 FROM task_runs r
                                                WHERE r.task_id = t.task_id AND r.node_id = n.node_id))) AS open`,
    [NODES],
  );
  if (row.leased > 0 || row.open > 0) throw new Error(`not settled: ${JSON.stringify(row)}`);
}

/**
 * One run of the scenario on a fresh server (PostgreSQL): the tasks are queued, then two real agents (the
 * Agent class over HTTP, nodes of distinct owners) register with a user key, heartbeat, claim, execute and
 * report until nothing more can happen; the snapshot is taken after they stopped. `sender` is what sends
 * the agents' requests (their registration included).
 */
export async function runScenario(sender: Sender): Promise<Snapshot> {
  const env = await createTestEnv('postgres', ENV);
  const dirs: string[] = [];
  const agents: Agent[] = [];
  const events: AgentEvent[] = [];
  let app: NestFastifyApplication | undefined;
  try {
    app = await bootApp(env.config);
    await app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const creator = await newSession(app, 'creator');
    for (const task of tasks()) await submitTask(app, bearer(creator.accessToken), task);
    for (const nodeId of NODES) {
      const operator = await newSession(app, 'operator');
      const created = await app.inject({
        method: 'POST',
        url: '/api/v1/api-keys',
        headers: bearer(operator.accessToken),
        payload: { name: 'agent', scopes: ['nodes:write', 'nodes:read'] },
      });
      const dataDir = mkdtempSync(join(tmpdir(), 'vcp-replay-agent-'));
      dirs.push(dataDir);
      const send = sender === 'direct' ? fetch : sender;
      const reporter = { emit: (event: AgentEvent) => void events.push({ node_id: nodeId, ...event }) };
      const identity = await resolveIdentity(
        {
          server: base,
          apiKey: created.json<{ api_key: string }>().api_key,
          nodeId,
          dataDir,
          region: 'test-region',
          fetch: send,
        },
        reporter,
      );
      const agent = new Agent({
        nodeId,
        concurrency: 2,
        keys: identity.keys,
        transport: new HttpTransport(base, nodeId, identity.nodeKey, send),
        engine: app.get(WasmService),
        cache: new ContentCache(null, 64 * 1024 * 1024),
        reporter,
        version: 'replay-test',
        claimWaitMs: 2000,
      });
      await agent.start();
      agents.push(agent);
    }
    const ds = app.get(DataSource);
    await eventually(() => settled(ds), { timeoutMs: 40_000, intervalMs: 100 }).catch((error: unknown) => {
      throw new Error(`${String(error)}; agent events: ${JSON.stringify(events.slice(-30))}`);
    });
    await Promise.all(agents.splice(0).map((agent) => agent.stop(1000)));
    return await snapshot(ds);
  } finally {
    await Promise.all(agents.map((agent) => agent.stop(0)));
    // fetch leaves a socket per agent connected without a request on it (after the aborted long poll), which
    // server.close() would wait on until the request timeout: the agents are stopped, nothing is in flight.
    app?.getHttpServer().closeAllConnections();
    await app?.close();
    await env.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
