/**
 * `npm run bench:scale` (issue 19): end-to-end tasks/s and dispatch latency for 1 and 2 API replicas × 2, 4
 * and 8 agents, on a PostgreSQL of the bench's own, with agents running trivial built-in WASM programs. Each
 * row also says where the time went — CPU of the replicas, the agents, PostgreSQL and this client, and
 * database commits per task — so a reader sees how it grows on this machine and what limits it.
 *
 * This process is only the client (it submits and polls); replicas, agents and PostgreSQL are processes of
 * their own. Its CPU share is printed and flagged when it saturated (the row is then a floor).
 *
 *   SCALE_TASKS (default 1000 per row), SCALE_REPLICAS (default "1,2"), SCALE_AGENTS (default "2,4,8")
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from './cluster/cluster';
import { sleep, Submission, submitAll } from './cluster/submitter';
import { CLOCK_TICKS, cpuSeconds } from './support/process-cpu';

const LATENCY_TASKS = 100;
const LATENCY_RATE = 20;

interface Row {
  replicas: number;
  agents: number;
  tasksPerSec: number;
  dispatchP50Ms: number;
  dispatchP99Ms: number;
  commitsPerTask: number;
  /** CPU the rest of the machine used meanwhile (share of one core): another load makes the row noisy. */
  otherCpu: number;
  cpu: Record<'replicas' | 'agents' | 'postgres' | 'client', number>;
}

function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Busy and total CPU seconds of the whole machine, from /proc/stat (to see load that is not ours). */
function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const idle = fields[3] + fields[4];
  const total = fields.reduce((s, v) => s + v, 0);
  return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
}

function cpuSnapshot(cluster: Cluster): Row['cpu'] {
  const sum = (pids: (number | undefined)[]) =>
    pids.reduce<number>((s, pid) => s + (pid ? cpuSeconds(pid) : 0), 0);
  const postmaster = cluster.postgres.postmasterPid();
  const usage = process.cpuUsage();
  return {
    replicas: sum(cluster.replicas.map((r) => r.pid)),
    agents: sum(cluster.agents.map((a) => a.child?.pid)),
    postgres: sum([postmaster, ...childrenOf(postmaster)]),
    client: (usage.user + usage.system) / 1e6,
  };
}

async function commits(cluster: Cluster): Promise<number> {
  const { rows } = await cluster.db.query<{ n: string }>(
    `SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()`,
  );
  return Number(rows[0].n);
}

let serial = 0;
const work = (count: number): Submission[] =>
  Array.from({ length: count }, () => {
    const i = serial++;
    return {
      key: `scale-${process.pid}-${i}`,
      body: {
        task_type: 'computation',
        inputs: { numbers: [i, i + 1, 2], operation: 'sum' },
        requirements: { min_nodes: 1, max_execution_time_sec: 30 },
      },
    };
  });

async function drained(cluster: Cluster, ids: string[]): Promise<void> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const { rows } = await cluster.db.query<{ open: number; failed: number }>(
      `SELECT count(*) FILTER (WHERE status IN ('pending', 'running'))::int AS open,
              count(*) FILTER (WHERE status = 'failed')::int AS failed
         FROM tasks WHERE task_id = ANY($1::uuid[])`,
      [ids],
    );
    if (rows[0].failed > 0) throw new Error(`${rows[0].failed} task(s) failed`);
    if (rows[0].open === 0) return;
    if (Date.now() > deadline) throw new Error('tasks still open after 10 minutes');
    await sleep(20);
  }
}

async function submit(cluster: Cluster, count: number, ratePerSec: number): Promise<string[]> {
  const report = await submitAll(work(count), {
    base: cluster.balancer.url,
    apiKey: cluster.submitterKey,
    concurrency: 16,
    ratePerSec,
    giveUpMs: 60_000,
  });
  if (report.refused.length > 0)
    throw new Error(`submissions refused: ${report.refused.slice(0, 3).join('; ')}`);
  return [...report.taskIds.values()];
}

async function measure(cluster: Cluster, replicas: number, agents: number, tasks: number): Promise<Row> {
  await drained(cluster, await submit(cluster, 50, 0)); // warm-up: modules cached, statements prepared

  // Dispatch latency at a pace the cluster keeps up with: submission → the first run leased.
  const paced = await submit(cluster, LATENCY_TASKS, LATENCY_RATE);
  await drained(cluster, paced);
  const { rows } = await cluster.db.query<{ p50: number; p99: number }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
       FROM (SELECT extract(epoch FROM (SELECT min(r.created_at) FROM task_runs r WHERE r.task_id = t.task_id)
                                        - t.created_at) * 1000 AS ms
               FROM tasks t WHERE t.task_id = ANY($1::uuid[])) d`,
    [paced],
  );

  // Throughput: everything submitted at once, timed until the last task completed.
  const cpuBefore = cpuSnapshot(cluster);
  const machineBefore = machineCpu();
  const commitsBefore = await commits(cluster);
  const started = performance.now();
  const ids = await submit(cluster, tasks, 0);
  await drained(cluster, ids);
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = cpuSnapshot(cluster);
  const machineAfter = machineCpu();
  const cpu = Object.fromEntries(
    Object.entries(cpuAfter).map(([k, v]) => [k, (v - cpuBefore[k as keyof Row['cpu']]) / elapsed]),
  ) as Row['cpu'];
  return {
    replicas,
    agents,
    tasksPerSec: tasks / elapsed,
    dispatchP50Ms: Number(rows[0].p50),
    dispatchP99Ms: Number(rows[0].p99),
    commitsPerTask: ((await commits(cluster)) - commitsBefore) / tasks,
    otherCpu: Math.max(
      0,
      (machineAfter.busy - machineBefore.busy) / elapsed - Object.values(cpu).reduce((sum, v) => sum + v, 0),
    ),
    cpu,
  };
}

const pct = (share: number) => `${Math.round(share * 100)} %`;

function describe(row: Row): string {
  const cores = cpus().length;
  const busy = Object.values(row.cpu).reduce((s, v) => s + v, 0) + row.otherCpu;
  const top = (Object.entries(row.cpu) as [keyof Row['cpu'], number][]).sort((a, b) => b[1] - a[1])[0];
  const bottleneck =
    busy >= cores * 0.85
      ? `CPU-bound (machine ${pct(busy / cores)} busy; most in ${top[0]})`
      : `not CPU-bound (machine ${pct(busy / cores)} busy): waiting on commits and round trips`;
  return (
    `${row.replicas} replica(s) × ${String(row.agents).padStart(2)} agents: ${row.tasksPerSec.toFixed(0).padStart(4)} tasks/s, ` +
    `dispatch p50 ${row.dispatchP50Ms.toFixed(1)} ms p99 ${row.dispatchP99Ms.toFixed(1)} ms; ` +
    `${row.commitsPerTask.toFixed(1)} commits/task (${(row.commitsPerTask * row.tasksPerSec).toFixed(0)}/s); CPU ` +
    `replicas ${pct(row.cpu.replicas)}, agents ${pct(row.cpu.agents)}, postgres ${pct(row.cpu.postgres)}, ` +
    `client ${pct(row.cpu.client)}${row.cpu.client >= 0.9 ? ' (CLIENT SATURATED: row is a floor)' : ''} ` +
    `→ ${bottleneck}` +
    (row.otherCpu >= 0.1 ? `; OTHER LOAD on the machine ${pct(row.otherCpu)} (noisy row)` : '')
  );
}

async function main(): Promise<void> {
  const tasks = Number(process.env.SCALE_TASKS ?? 1000);
  const replicaCounts = (process.env.SCALE_REPLICAS ?? '1,2').split(',').map(Number);
  const agentCounts = (process.env.SCALE_AGENTS ?? '2,4,8').split(',').map(Number);
  console.log(
    `bench:scale — ${tasks} trivial computation tasks per row (flooded), dispatch latency at ${LATENCY_RATE} tasks/s; ` +
      `${cpus().length} cores; CPU shares are of one core (100 % = one core busy)`,
  );
  const rows: Row[] = [];
  for (const replicas of replicaCounts) {
    const runDir = mkdtempSync(join(tmpdir(), 'vcp-scale-'));
    const cluster = await Cluster.start(
      { runDir, replicas, agents: 0, owners: 1, agentConcurrency: 4, durable: true },
      () => undefined,
    );
    try {
      for (const agents of agentCounts) {
        await cluster.addAgents(agents - cluster.agents.length);
        const row = await measure(cluster, replicas, agents, tasks);
        rows.push(row);
        console.log(describe(row));
      }
    } finally {
      await cluster.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
