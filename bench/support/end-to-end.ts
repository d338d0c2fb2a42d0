/**
 * bench:tasks' end-to-end rows (issue 17, acceptance 6): trivial built-in-program tasks from submission to
 * `completed`, executed either by the server's embedded node or by real agent processes (`dist/src/agent`),
 * never by the bench's signed test nodes. Submissions come from a child process (support/task-nodes.ts);
 * this process only polls the queue until it is empty and reads the agents' `--json` events for their
 * per-run overhead (`overhead_ms`: the agent's time for a run minus the engine call's). The agents' rows also
 * print the part after the last submission alone (its rate and CPU per result): the agents' path without the
 * submissions competing for the server.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { machineTicks, STEAL_LIMIT, stealShare } from './process-cpu';
import type { TaskNodesJob, TaskNodesReport } from './task-nodes';

const AGENT_MAIN = join(__dirname, '../../src/agent/main.js');

export interface EndToEndDeps {
  startServer(
    env: Record<string, string>,
  ): Promise<{ base: string; child: ChildProcess; stop(): Promise<void> }>;
  userKeyOf(base: string): Promise<string>;
  runTaskNodes(job: TaskNodesJob): Promise<TaskNodesReport>;
  cpuSeconds(pid: number): number;
}

export interface EndToEndRow {
  label: string;
  env: Record<string, string>;
  /** 0: the embedded node executes; otherwise this many agent processes (the embedded node is off). */
  agents: number;
  tasks: number;
  target: number;
}

interface AgentProcess {
  child: ChildProcess;
  overheadMs: number[];
  engineMs: number[];
  /** Its slots, as its `started` line says (`--concurrency`, else its default: cores − 1). */
  started: Promise<number>;
}

function startAgent(base: string, userKey: string, dataDir: string, nodeId: string): AgentProcess {
  // E2E_AGENT_NODE_ARGS profiles the agents under the bench's load, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
  const nodeArgs = (process.env.E2E_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      AGENT_MAIN,
      '--server',
      base,
      '--api-key',
      userKey,
      '--node-id',
      nodeId,
      '--data-dir',
      dataDir,
      '--json',
      ...(process.env.E2E_CONCURRENCY ? ['--concurrency', process.env.E2E_CONCURRENCY] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
  );
  const overheadMs: number[] = [];
  const engineMs: number[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const started = new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`agent exited (${code}) before starting: ${stderr}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const event = JSON.parse(line) as {
          event: string;
          concurrency?: number;
          overhead_ms?: number;
          engine_ms?: number;
        };
        if (event.event === 'started') resolve(event.concurrency ?? NaN);
        if (event.event === 'submitted' && typeof event.overhead_ms === 'number') {
          overheadMs.push(event.overhead_ms);
          engineMs.push(event.engine_ms ?? NaN);
        }
      }
    });
  });
  return { child, overheadMs, engineMs, started };
}

const stopAgent = (agent: AgentProcess) =>
  new Promise<void>((resolve) => {
    if (agent.child.exitCode !== null) return resolve();
    agent.child.once('exit', () => resolve());
    agent.child.kill('SIGTERM');
  });

/**
 * How often the bench asks whether the queue is empty. Each ask is two list queries the server answers on the
 * same thread (and, embedded, the same database session) as the work being measured: at every 20 ms they took
 * ~7 % of the embedded server's main thread. The row's end is not taken from this poll (see lastCompletion),
 * so a slow poll costs the measurement nothing but a later CPU snapshot.
 */
const DRAIN_POLL_MS = Number(process.env.E2E_POLL_MS ?? 250);

/**
 * The rows measure a warm server, as one that has run for a while is. A freshly started server spent 30–60 %
 * more CPU on each of its first ~1 000 tasks (2026-12-06, bench/README.md "A warm server"), so the warm-up is
 * 50 tasks (modules fetched and cached, engine workers started, statements prepared), then WARMUP_ROUNDS rounds of
 * WARMUP_ROUND_TASKS, each drained before the next, and the row prints the server's CPU per task by round (short and
 * drained at its end, a round reads higher than the row). E2E_WARMUP=n warms up with n tasks instead (50: a cold
 * server, as before 2026-12-06).
 */
const WARMUP_FIRST_TASKS = 50;
const WARMUP_ROUNDS = 4;
const WARMUP_ROUND_TASKS = 250;

export async function warmUp(
  submit: (count: number) => Promise<unknown>,
  drain: () => Promise<boolean>,
  serverCpuSeconds: () => number,
  fixedTasks?: number,
): Promise<string> {
  const round = async (count: number) => {
    const before = serverCpuSeconds();
    await submit(count);
    if (await drain()) throw new Error('warm-up tasks failed');
    return ((serverCpuSeconds() - before) * 1000) / count;
  };
  if (fixedTasks !== undefined && !(Number.isInteger(fixedTasks) && fixedTasks > 0)) {
    throw new Error(`E2E_WARMUP must be a positive whole number of tasks, not ${fixedTasks}`);
  }
  const rounds =
    fixedTasks !== undefined
      ? [fixedTasks]
      : [WARMUP_FIRST_TASKS, ...Array<number>(WARMUP_ROUNDS).fill(WARMUP_ROUND_TASKS)];
  const perTask: number[] = [];
  for (const count of rounds) perTask.push(await round(count));
  return (
    `warm-up: ${rounds.reduce((sum, count) => sum + count, 0)} tasks` +
    `${fixedTasks !== undefined ? ' (E2E_WARMUP)' : ''}, server CPU per task by round ` +
    `${perTask.map((ms) => ms.toFixed(1)).join(', ')} ms`
  );
}

/** Polls until no task of the account is pending or running; answers whether any ended `failed`. */
async function drained(base: string, userKey: string, deadlineMs: number): Promise<boolean> {
  const count = async (status: string) => {
    const res = await fetch(`${base}/api/v1/tasks?status=${status}&limit=1`, {
      headers: { 'x-api-key': userKey },
    });
    if (!res.ok) throw new Error(`listing ${status} tasks: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { items: unknown[] }).items.length;
  };
  for (;;) {
    if ((await count('pending')) === 0 && (await count('running')) === 0) return (await count('failed')) > 0;
    if (Date.now() > deadlineMs) throw new Error('tasks still open at the deadline');
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
  }
}

/**
 * When the account's last task completed, by the server's own `completed_at` (the server and the bench share
 * this machine's clock): read after the row, page by page, so it neither loads the row nor waits on the poll.
 */
async function lastCompletion(base: string, userKey: string): Promise<number> {
  let newest = 0;
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const res = await fetch(`${base}/api/v1/tasks?status=completed&limit=100${query}`, {
      headers: { 'x-api-key': userKey },
    });
    if (!res.ok) throw new Error(`listing completed tasks: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as {
      items: { completed_at: string | null }[];
      next_cursor: string | null;
    };
    for (const task of page.items) newest = Math.max(newest, Date.parse(task.completed_at ?? '') || 0);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return newest;
}

/** A client (submitter, test nodes) at this share of a core or more may have set the pace: its row's rate is a floor. */
export const SUBMITTER_SATURATED = 0.9;
/**
 * Whether a row met its target. A rate at or above it is met whatever slowed the row (it is a floor); below
 * it, a row that a saturated submitter or the hypervisor's steal may have paced is not judged, and says why.
 * `stealShare` is a share of the whole machine's time; it is printed, like the row's CPU line, in percent of
 * `cores` × 100 %.
 */
export function judgement(
  rate: number,
  target: number,
  failed: boolean,
  submitterCpuShare: number,
  stealShare: number,
  cores: number,
): string {
  if (failed) return 'MISSED (some tasks failed)';
  if (rate >= target) return 'met';
  const reasons: string[] = [];
  if (submitterCpuShare >= SUBMITTER_SATURATED) {
    reasons.push(`the submitter used ${(submitterCpuShare * 100).toFixed(0)} % of a core`);
  }
  if (stealShare >= STEAL_LIMIT) {
    const ofCores = (share: number) => `${(share * cores * 100).toFixed(0)} %`;
    reasons.push(
      `the hypervisor took ${ofCores(stealShare)} of ${cores * 100} % (steal; limit ${ofCores(STEAL_LIMIT)})`,
    );
  }
  return reasons.length ? `not judged: ${reasons.join('; ')}` : 'MISSED';
}

/** The PostgreSQL backends serving the database `url` names (the server's pool), by pid. */
async function backendPids(url: string): Promise<number[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    return rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

/**
 * CPU seconds of the processes a row spends its time in, so that a row can say where a task's CPU goes (and
 * how much of the machine was busy, or taken by the hypervisor), which moves far less than tasks/s on a noisy VM.
 */
async function cpuSnapshot(
  deps: EndToEndDeps,
  serverPid: number,
  agentPids: number[],
  databaseUrl: string | undefined,
  backendsSeen: Set<number>,
) {
  if (databaseUrl) for (const pid of await backendPids(databaseUrl)) backendsSeen.add(pid);
  const backends = new Map([...backendsSeen].map((pid) => [pid, deps.cpuSeconds(pid)]));
  return {
    server: deps.cpuSeconds(serverPid),
    agents: agentPids.reduce((sum, pid) => sum + deps.cpuSeconds(pid), 0),
    backends,
    machine: machineTicks(),
  };
}

type CpuSnapshot = Awaited<ReturnType<typeof cpuSnapshot>>;

function cpuLine(
  before: CpuSnapshot,
  after: CpuSnapshot,
  tasks: number,
  submitterCpuS: number,
  agents: number,
  per = 'task',
): string {
  // A backend that started during the row counts from zero; one that ended is left out (it reads 0 now).
  let database = 0;
  for (const [pid, used] of after.backends) database += Math.max(0, used - (before.backends.get(pid) ?? 0));
  const perTask = (seconds: number) => `${((seconds * 1000) / tasks).toFixed(1)} ms`;
  const ticks = after.machine.total - before.machine.total;
  const share = (part: number) => `${((part / ticks) * 100 * availableParallelism()).toFixed(0)} %`;
  return (
    `  CPU per ${per}: server ${perTask(after.server - before.server)}` +
    (agents ? `, agents ${perTask(after.agents - before.agents)}` : '') +
    (after.backends.size ? `, PostgreSQL ${perTask(database)}` : '') +
    (submitterCpuS > 0 ? `, submitter ${perTask(submitterCpuS)}` : '') +
    `; the machine busy ` +
    `${share(after.machine.busy - before.machine.busy)} of ${availableParallelism() * 100} %, ` +
    `steal ${share(after.machine.steal - before.machine.steal)}`
  );
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : NaN;
};

// With one slot an agent's runs form a chain (execute, report, the answer brings the next): the row then also
// measures each link's latency, so it says how many slots the agents had.
const slotsOf = (slots: number[]) =>
  slots.length === 0
    ? ''
    : new Set(slots).size === 1
      ? ` (${slots[0]} slot${slots[0] === 1 ? '' : 's'} each)`
      : ` (slots ${slots.join(', ')})`;

export async function endToEnd(deps: EndToEndDeps, row: EndToEndRow): Promise<void> {
  const server = await deps.startServer({
    ...row.env,
    EMBEDDED_NODE: row.agents === 0 ? 'on' : 'off',
    ...(process.env.E2E_CONCURRENCY ? { EMBEDDED_NODE_CONCURRENCY: process.env.E2E_CONCURRENCY } : {}),
  });
  const agentDir = mkdtempSync(join(tmpdir(), 'vcp-bench-agents-'));
  const agents: AgentProcess[] = [];
  try {
    const userKey = await deps.userKeyOf(server.base);
    for (let i = 0; i < row.agents; i++) {
      const nodeId = `bench-agent-${process.pid}-${i}`;
      agents.push(startAgent(server.base, userKey, join(agentDir, nodeId), nodeId));
    }
    const slots = await Promise.all(agents.map((agent) => agent.started));
    const submit = (count: number) =>
      deps.runTaskNodes({ mode: 'submit', base: server.base, userKey, count, concurrency: 8 });
    const warmedUp = await warmUp(
      submit,
      () => drained(server.base, userKey, Date.now() + 60_000),
      () => deps.cpuSeconds(server.child.pid!),
      process.env.E2E_WARMUP ? Number(process.env.E2E_WARMUP) : undefined,
    );
    for (const agent of agents) {
      agent.overheadMs.length = 0;
      agent.engineMs.length = 0;
    }

    const agentPids = agents.map((agent) => agent.child.pid!);
    const backendsSeen = new Set<number>();
    const databaseUrl = row.env.DATABASE_URL;
    const before = await cpuSnapshot(deps, server.child.pid!, agentPids, databaseUrl, backendsSeen);
    const started = performance.now();
    const startedAt = Date.now();
    const submitter = await submit(row.tasks);
    const submittedS = (performance.now() - started) / 1000;
    // The agents' rows split at the last submission: after it, the agents' path alone (result, next claim).
    const atLastSubmission = agents.length
      ? {
          cpu: await cpuSnapshot(deps, server.child.pid!, agentPids, databaseUrl, backendsSeen),
          results: agents.reduce((sum, agent) => sum + agent.overheadMs.length, 0),
        }
      : undefined;
    const failed = await drained(server.base, userKey, Date.now() + 600_000);
    const seenEmptyS = (performance.now() - started) / 1000;
    const after = await cpuSnapshot(deps, server.child.pid!, agentPids, databaseUrl, backendsSeen);
    const elapsedS = ((await lastCompletion(server.base, userKey)) - startedAt) / 1000;
    // Completion is recorded before the poll can see it: anything else is a clock or bench bug, not a result.
    if (!(elapsedS > 0 && elapsedS <= seenEmptyS + 0.01)) {
      throw new Error(
        `last completed_at ${elapsedS} s after the start, but the queue was seen empty at ${seenEmptyS} s`,
      );
    }
    const serverShare = (after.server - before.server) / seenEmptyS;
    const rate = row.tasks / elapsedS;
    const verdict = judgement(
      rate,
      row.target,
      failed,
      submitter.cpuShare,
      stealShare(before.machine, after.machine),
      availableParallelism(),
    );
    const overheads = agents.flatMap((agent) => agent.overheadMs);
    const engine = agents.flatMap((agent) => agent.engineMs);
    console.log(
      `${row.label}${slotsOf(slots)}: ${rate.toFixed(0)} tasks/s submit → completed (${row.tasks} tasks in ${elapsedS.toFixed(2)} s ` +
        `to the last completed_at, seen by the ${DRAIN_POLL_MS} ms poll at ${seenEmptyS.toFixed(2)} s; ` +
        `${failed ? 'SOME FAILED' : 'none failed'}; target ≥ ${row.target}: ${verdict}); submitter CPU ` +
        `${(submitter.cpuShare * 100).toFixed(0)} %` +
        `${submitter.cpuShare >= SUBMITTER_SATURATED ? ' (SATURATED: a floor)' : ''} ` +
        `(all submitted after ${submittedS.toFixed(1)} s), ` +
        `server CPU ${(serverShare * 100).toFixed(0)} %` +
        (overheads.length
          ? `; agent overhead per run over the engine call: p50 ${median(overheads).toFixed(2)} ms ` +
            `(${overheads.length} runs; target ≤ 2 ms: ${median(overheads) <= 2 ? 'met' : 'MISSED'}; ` +
            `the engine call itself p50 ${median(engine).toFixed(2)} ms)`
          : ''),
    );
    console.log(cpuLine(before, after, row.tasks, submitter.cpuShare * submittedS, row.agents));
    console.log(`  ${warmedUp}`);
    if (atLastSubmission) {
      const rest = row.tasks - atLastSubmission.results;
      const restS = elapsedS - submittedS;
      console.log(
        `  after the last submission, agents alone: ${(rest / restS).toFixed(0)} results/s (${rest} in ` +
          `${restS.toFixed(2)} s to the last completed_at; ${atLastSubmission.results} results before it)`,
      );
      console.log(cpuLine(atLastSubmission.cpu, after, rest, 0, row.agents, 'result'));
    }
  } finally {
    await Promise.all(agents.map(stopAgent));
    await server.stop();
    rmSync(agentDir, { recursive: true, force: true });
  }
}
