/**
 * bench:tasks' end-to-end rows (issue 17, acceptance 6): trivial built-in-program tasks from submission to
 * `completed`, executed either by the server's embedded node or by real agent processes (`dist/src/agent`),
 * never by the bench's signed test nodes. Submissions come from a child process (support/task-nodes.ts);
 * this process only polls the queue until it is empty and reads the agents' `--json` events for their
 * per-run overhead (`overhead_ms`: the agent's time for a run minus the engine call's).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  started: Promise<void>;
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
  const started = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`agent exited (${code}) before starting: ${stderr}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const event = JSON.parse(line) as { event: string; overhead_ms?: number; engine_ms?: number };
        if (event.event === 'started') resolve();
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
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : NaN;
};

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
    await Promise.all(agents.map((agent) => agent.started));
    const submit = (count: number) =>
      deps.runTaskNodes({ mode: 'submit', base: server.base, userKey, count, concurrency: 8 });
    // Warm-up: modules fetched and cached, engine workers started, statements prepared.
    await submit(50);
    if (await drained(server.base, userKey, Date.now() + 60_000)) throw new Error('warm-up tasks failed');
    for (const agent of agents) {
      agent.overheadMs.length = 0;
      agent.engineMs.length = 0;
    }

    const cpuBefore = deps.cpuSeconds(server.child.pid!);
    const started = performance.now();
    const submitter = await submit(row.tasks);
    const submittedS = (performance.now() - started) / 1000;
    const failed = await drained(server.base, userKey, Date.now() + 600_000);
    const elapsedS = (performance.now() - started) / 1000;
    const serverShare = (deps.cpuSeconds(server.child.pid!) - cpuBefore) / elapsedS;
    const rate = row.tasks / elapsedS;
    const overheads = agents.flatMap((agent) => agent.overheadMs);
    const engine = agents.flatMap((agent) => agent.engineMs);
    console.log(
      `${row.label}: ${rate.toFixed(0)} tasks/s submit → completed (${row.tasks} tasks in ${elapsedS.toFixed(1)} s, ` +
        `${failed ? 'SOME FAILED' : 'none failed'}; target ≥ ${row.target}: ` +
        `${rate >= row.target && !failed ? 'met' : 'MISSED'}); submitter CPU ` +
        `${(submitter.cpuShare * 100).toFixed(0)} %${submitter.cpuShare >= 0.9 ? ' (SATURATED: a floor)' : ''} ` +
        `(all submitted after ${submittedS.toFixed(1)} s), ` +
        `server CPU ${(serverShare * 100).toFixed(0)} %` +
        (overheads.length
          ? `; agent overhead per run over the engine call: p50 ${median(overheads).toFixed(2)} ms ` +
            `(${overheads.length} runs; target ≤ 2 ms: ${median(overheads) <= 2 ? 'met' : 'MISSED'}; ` +
            `the engine call itself p50 ${median(engine).toFixed(2)} ms)`
          : ''),
    );
  } finally {
    await Promise.all(agents.map(stopAgent));
    await server.stop();
    rmSync(agentDir, { recursive: true, force: true });
  }
}
