/**
 * bench:tasks (issue 16, acceptance 7): the scheduling engine measured from outside.
 * - The server is the built `dist/src/main.js` in a child process: embedded PGlite in a fresh DATA_DIR, and
 *   PostgreSQL on a fresh database created on BENCH_POSTGRES_ADMIN_URL (default the local server; skipped
 *   with a note if it is unreachable).
 * - The test nodes are plain HTTP clients in another child process (bench/support/task-nodes.ts). This
 *   process only sets up, starts the two, and prints.
 * Rows: dispatch latency (submit sent → run claimed by an idle long-polling node, p50/p99) and claim+result
 * throughput (8 nodes, batched claims of up to 16, runs/s). Targets: p50 ≤ 5 ms, p99 ≤ 25 ms; ≥ 300 runs/s
 * on PGlite, ≥ 600 on PostgreSQL. End-to-end rows (issue 17, support/end-to-end.ts): trivial built-in-program
 * tasks submit → completed by the embedded node on PGlite (≥ 200 tasks/s) and by two agent processes on
 * PostgreSQL (≥ 300 tasks/s, agent overhead per run p50 ≤ 2 ms). Verification rows (issue 18,
 * support/verification-cost.ts): cost per completed task of quorum 2 (≤ 2.2×) and of adaptive replication with
 * trusted nodes (≤ 1.3×) relative to min_nodes 1, and a planted liar under both. Knobs: SAMPLES (latency samples,
 * 300), RUNS (throughput runs, 3000), E2E_TASKS (end-to-end tasks, 1000), E2E_WARMUP (end-to-end warm-up tasks;
 * default 50, then four rounds of 250), E2E_POLL_MS (how often the end-to-end rows look for an empty queue, 250;
 * their end is the last completed_at), VERIFY_TASKS (tasks per verification mode and round, 400), VERIFY_ROUNDS
 * (3), PARTS (engine,verification,end-to-end),
 * BENCH_LOG_LEVEL (the server's LOG_LEVEL, default info as in production; its output is discarded),
 * BENCH_SERVER_ENV (extra server settings, e.g. DB_MAX_CONNECTIONS=20,LOG_LEVEL=warn).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { generateNodeKeyPair, privateKeyPem } from '../src/common/receipts/receipt';
import { endToEnd, EndToEndDeps, SUBMITTER_SATURATED } from './support/end-to-end';
import { verificationRows, VerificationDeps } from './support/verification-cost';
import type { BenchNode, TaskNodesJob, TaskNodesReport } from './support/task-nodes';
import { freePort } from './cluster/ports';
import { LIFTED_RATE_LIMITS } from './support/bench-env';
import { cpuSeconds, machineTicks, STEAL_LIMIT, stealShare } from './support/process-cpu';

const SAMPLES = Number(process.env.SAMPLES ?? 300);
const RUNS = Number(process.env.RUNS ?? 3000);
const E2E_TASKS = Number(process.env.E2E_TASKS ?? 1000);
const VERIFY_TASKS = Number(process.env.VERIFY_TASKS ?? 400);
const VERIFY_ROUNDS = Number(process.env.VERIFY_ROUNDS ?? 3);
/** PARTS=engine, end-to-end or verification (comma-separated) runs those kinds of row only. */
const PARTS = new Set((process.env.PARTS ?? 'engine,verification,end-to-end').split(','));
const NODES = 8;
const BATCH = 16;
const ADMIN_URL = process.env.BENCH_POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MAIN = join(__dirname, '../src/main.js');
const TASK_NODES = join(__dirname, 'support/task-nodes.js');

interface Server {
  child: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  // BENCH_SERVER_NODE_ARGS profiles the server under the bench's load, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      ENVIRONMENT: 'development',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      BCRYPT_COST: '4',
      // The test nodes are the only nodes: no embedded node competes for the work.
      EMBEDDED_NODE: 'off',
      NODE_MAX_CONCURRENT_RUNS: String(BATCH),
      // The bench measures the engine, not the rate limiter: every tier is lifted out of the way.
      ...LIFTED_RATE_LIMITS,
      ...env,
      // BENCH_SERVER_ENV="DB_MAX_CONNECTIONS=20,LOG_LEVEL=warn" sets server settings for an experiment.
      ...Object.fromEntries(
        (process.env.BENCH_SERVER_ENV ?? '')
          .split(',')
          .filter(Boolean)
          .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      ),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}): ${stderr}`);
    const up = await fetch(`${base}/api/v1/health`).then(
      (res) => res.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error(`server did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    base,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function runTaskNodes(job: TaskNodesJob): Promise<TaskNodesReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TASK_NODES], {
      env: { ...process.env, VCP_TASKS_JOB: JSON.stringify(job) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as TaskNodesReport)
        : reject(new Error(`test nodes failed: ${err.trim()}`)),
    );
  });
}

async function json<T>(res: Response, status: number): Promise<T> {
  if (res.status !== status) throw new Error(`unexpected ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

async function register(base: string, username: string): Promise<string> {
  const { api_key: userKey } = await json<{ api_key: string }>(
    await fetch(`${base}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: 'bench password 123' }),
    }),
    201,
  );
  return userKey;
}

/**
 * A fresh account (its API key submits tasks) and `count` compute nodes with their keys, registered by that
 * account or, with `ownerPerNode`, each by an account of its own (a quorum needs distinct owners).
 */
async function setUp(
  base: string,
  count: number,
  ownerPerNode = false,
): Promise<{ userKey: string; nodes: BenchNode[] }> {
  const suffix = randomBytes(4).toString('hex');
  const userKey = await register(base, `bench_${suffix}`);
  const nodes: BenchNode[] = [];
  for (let i = 0; i < count; i++) {
    const nodeId = `bench-${suffix}-${i}`;
    const keys = generateNodeKeyPair();
    const ownerKey = ownerPerNode ? await register(base, `bench_${suffix}_owner_${i}`) : userKey;
    const node = await json<{ node_api_key: string }>(
      await fetch(`${base}/api/v1/nodes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': ownerKey },
        body: JSON.stringify({
          node_id: nodeId,
          region: 'bench',
          node_type: 'compute',
          capabilities: { bandwidth_mbps: 1000, cpu_cores: 8, memory_gb: 16, gpu_available: false },
          public_key: keys.publicKeyBase64,
        }),
      }),
      201,
    );
    nodes.push({ nodeId, nodeKey: node.node_api_key, privateKeyPem: privateKeyPem(keys) });
  }
  return { userKey, nodes };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const pct = (share: number) => `${(share * 100).toFixed(0)} %`;
const saturation = (share: number) =>
  share >= SUBMITTER_SATURATED ? 'SATURATED (numbers are a floor)' : 'not saturated';
/** The hypervisor's steal during a row, said only when it is enough to have slowed the row (see STEAL_LIMIT). */
const stealNote = (share: number) =>
  share >= STEAL_LIMIT
    ? `; STOLEN: the hypervisor took ${pct(share)} of the machine's time, so the row understates it`
    : '';

async function benchDatabase(name: string, env: Record<string, string>, target: number): Promise<void> {
  const server = await startServer(env);
  try {
    const { userKey, nodes } = await setUp(server.base, NODES);

    const latencyCpu = cpuSeconds(server.child.pid!);
    const latencyMachine = machineTicks();
    const latencyStarted = performance.now();
    const latency = await runTaskNodes({
      mode: 'latency',
      base: server.base,
      userKey,
      node: nodes[0],
      samples: SAMPLES,
      warmup: Math.ceil(SAMPLES / 10),
    });
    const serverLatencyShare =
      (cpuSeconds(server.child.pid!) - latencyCpu) / ((performance.now() - latencyStarted) / 1000);
    const dispatch = [...latency.dispatchMs!].sort((a, b) => a - b);
    const submits = [...latency.submitMs!].sort((a, b) => a - b);
    console.log(
      `${name} dispatch (submit sent → claimed by an idle long-polling node, ${dispatch.length} samples): ` +
        `p50 ${percentile(dispatch, 50).toFixed(2)} ms, p99 ${percentile(dispatch, 99).toFixed(2)} ms ` +
        `(targets ≤ 5 / ≤ 25 ms); the submit's own round trip p50 ${percentile(submits, 50).toFixed(2)} ms; ` +
        `client CPU ${pct(latency.cpuShare)} (${saturation(latency.cpuShare)}), server CPU ${pct(serverLatencyShare)}` +
        stealNote(stealShare(latencyMachine, machineTicks())),
    );

    await runTaskNodes({ mode: 'submit', base: server.base, userKey, count: RUNS, concurrency: 8 });
    const throughputCpu = cpuSeconds(server.child.pid!);
    const throughputMachine = machineTicks();
    const throughputStarted = performance.now();
    const throughput = await runTaskNodes({
      mode: 'throughput',
      base: server.base,
      nodes,
      max: BATCH,
      expected: RUNS,
    });
    const serverShare =
      (cpuSeconds(server.child.pid!) - throughputCpu) / ((performance.now() - throughputStarted) / 1000);
    const rate = throughput.completed! / (throughput.elapsedMs! / 1000);
    console.log(
      `${name} claim+result throughput (${NODES} nodes, claims of up to ${BATCH}): ${rate.toFixed(0)} runs/s ` +
        `(${throughput.completed} runs in ${(throughput.elapsedMs! / 1000).toFixed(1)} s, ` +
        `${(throughput.completed! / throughput.claims!).toFixed(1)} runs per claim, ${throughput.lost} results lease_lost; ` +
        `target ≥ ${target}); ` +
        `client CPU ${pct(throughput.cpuShare)} (${saturation(throughput.cpuShare)}), server CPU ${pct(serverShare)}` +
        stealNote(stealShare(throughputMachine, machineTicks())),
    );
  } finally {
    await server.stop();
  }
}

async function freshPostgres(): Promise<{ url: string; drop(): Promise<void> } | null> {
  const name = `vcp_bench_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (error) {
    console.log(`PostgreSQL rows skipped: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

const VERIFICATION: VerificationDeps = {
  startServer,
  setUpOwners: (base, count) => setUp(base, count, true),
  runTaskNodes,
};

const END_TO_END: EndToEndDeps = {
  startServer,
  userKeyOf: async (base) => (await setUp(base, 0)).userKey,
  runTaskNodes,
  cpuSeconds,
};

async function main(): Promise<void> {
  // Rows differ by Node version (the server's CPU per task falls ~20 % from Node 20 to 24): say which ran them.
  console.log(
    `bench:tasks on Node ${process.versions.node} (the server, agents and clients alike), ${cpus().length} cores`,
  );
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-tasks-'));
  try {
    if (PARTS.has('engine')) await benchDatabase('PGlite', { DATA_DIR: join(dataDir, 'pglite') }, 300);
    if (PARTS.has('verification')) await verificationRows(VERIFICATION, dataDir, VERIFY_TASKS, VERIFY_ROUNDS);
    if (PARTS.has('end-to-end')) {
      await endToEnd(END_TO_END, {
        label: 'PGlite, embedded node',
        env: { DATA_DIR: join(dataDir, 'pglite-e2e') },
        agents: 0,
        tasks: E2E_TASKS,
        target: 200,
      });
    }
    for (const step of (['engine', 'end-to-end'] as const).filter((part) => PARTS.has(part))) {
      const postgres = await freshPostgres();
      if (!postgres) break;
      try {
        const env = { DATA_DIR: join(dataDir, `postgres-${step}`), DATABASE_URL: postgres.url };
        if (step === 'engine') await benchDatabase('PostgreSQL', env, 600);
        else {
          await endToEnd(END_TO_END, {
            label: 'PostgreSQL, two agent processes',
            env,
            agents: 2,
            tasks: E2E_TASKS,
            target: 300,
          });
        }
      } finally {
        await postgres.drop();
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
