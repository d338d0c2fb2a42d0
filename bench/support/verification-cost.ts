/**
 * bench:tasks' verification rows (issue 18, acceptance 5): what a verified result costs. On PGlite, eight
 * signed test nodes of eight owners (a quorum needs distinct owners) in a child process; the server in another.
 * For each mode a batch of trivial tasks is submitted, then the nodes work until the queue is empty, and the
 * cost per completed task is the CPU time of the server and of the nodes together over that phase, divided by
 * the tasks completed (and the runs per task, the work a real node would do). Ratios are to min_nodes 1, in
 * the same run. Then the planted liar: one node that lies (validly signed) after the nodes built their valid
 * streaks, under full replication and under adaptive replication — wrong results accepted against overhead.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { BenchNode, TaskNodesJob, TaskNodesReport } from './task-nodes';

export interface VerificationDeps {
  startServer(
    env: Record<string, string>,
  ): Promise<{ base: string; child: ChildProcess; stop(): Promise<void> }>;
  /** `count` nodes, each of its own owner; `userKey` submits the tasks. */
  setUpOwners(base: string, count: number): Promise<{ userKey: string; nodes: BenchNode[] }>;
  runTaskNodes(job: TaskNodesJob): Promise<TaskNodesReport>;
  cpuSeconds(pid: number): number;
}

const NODES = 8;
const BATCH = 16;
const BASELINE = { min_nodes: 1, max_execution_time_sec: 60 };
const QUORUM = { min_nodes: 2, max_execution_time_sec: 60 };
const ADAPTIVE = { ...QUORUM, verification: 'adaptive' };

interface Phase {
  tasks: number;
  runs: number;
  cpuPerTaskMs: number;
  clientShare: number;
  lies: number;
  refused: number;
}

/** Submits `tasks` tasks, then lets the nodes drain the queue; CPU of server and nodes over the drain. */
async function phase(
  deps: VerificationDeps,
  server: { base: string; child: ChildProcess },
  setup: { userKey: string; nodes: BenchNode[] },
  requirements: Record<string, unknown>,
  tasks: number,
  liars: string[] = [],
): Promise<Phase> {
  await deps.runTaskNodes({
    mode: 'submit',
    base: server.base,
    userKey: setup.userKey,
    count: tasks,
    concurrency: 8,
    requirements,
  });
  const serverCpu = deps.cpuSeconds(server.child.pid!);
  const report = await deps.runTaskNodes({
    mode: 'throughput',
    base: server.base,
    nodes: setup.nodes,
    max: BATCH,
    expected: Infinity,
    untilIdle: true,
    liars,
  });
  // The drain ends after 1 s of idle polling; only the time until the last result is the nodes' work.
  const clientCpu = (report.cpuShare * report.elapsedMs!) / 1000;
  const serverUsed = deps.cpuSeconds(server.child.pid!) - serverCpu;
  return {
    tasks,
    runs: report.completed!,
    cpuPerTaskMs: ((serverUsed + clientCpu) / tasks) * 1000,
    clientShare: report.cpuShare,
    lies: report.lies ?? 0,
    refused: report.refused ?? 0,
  };
}

interface TaskPage {
  items: { status: string; result: unknown }[];
  next_cursor: string | null;
}

/** Completed tasks whose accepted output is not the honest one, and tasks not completed. */
async function wrongResults(base: string, userKey: string): Promise<{ wrong: number; open: number }> {
  let wrong = 0;
  let open = 0;
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const res = await fetch(`${base}/api/v1/tasks?limit=100${query}`, { headers: { 'x-api-key': userKey } });
    if (!res.ok) throw new Error(`task list: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as TaskPage;
    for (const task of page.items) {
      if (task.status !== 'completed') open++;
      else if (JSON.stringify(task.result) !== JSON.stringify({ sum: 6 })) wrong++;
    }
    cursor = page.next_cursor;
  } while (cursor);
  return { wrong, open };
}

const ms = (value: number) => `${value.toFixed(2)} ms`;
const ratioLine = (phase: Phase, base: Phase, target: number | null) => {
  const ratio = phase.cpuPerTaskMs / base.cpuPerTaskMs;
  const verdict = target === null ? '' : `; target ≤ ${target}: ${ratio <= target ? 'met' : 'MISSED'}`;
  return (
    `${(phase.runs / phase.tasks).toFixed(2)} runs/task, ${ms(phase.cpuPerTaskMs)} CPU/task ` +
    `(server + nodes) = ${ratio.toFixed(2)}× min_nodes 1${verdict}`
  );
};
const client = (phases: Phase[]) => {
  const worst = Math.max(...phases.map((p) => p.clientShare));
  return `nodes' client CPU up to ${(worst * 100).toFixed(0)} % of a core (${worst >= 0.9 ? 'SATURATED' : 'not saturated'})`;
};

export async function verificationRows(
  deps: VerificationDeps,
  dataDir: string,
  tasks: number,
): Promise<void> {
  const server = await deps.startServer({ DATA_DIR: join(dataDir, 'pglite-verification') });
  try {
    const setup = await deps.setUpOwners(server.base, NODES);
    // Warm-up (JIT, the database's caches and prepared statements), not measured.
    await phase(deps, server, setup, BASELINE, Math.ceil(tasks / 4));
    const single = await phase(deps, server, setup, BASELINE, tasks);
    // The quorum phase also builds every node's valid streak (≈ 2·tasks/8 each), so the adaptive phase that
    // follows runs with trusted nodes (trust probability 1 − 1/streak).
    const quorum = await phase(deps, server, setup, QUORUM, tasks);
    const adaptive = await phase(deps, server, setup, ADAPTIVE, tasks);
    const { wrong, open } = await wrongResults(server.base, setup.userKey);
    console.log(
      `verification cost (PGlite, ${NODES} signed test nodes of ${NODES} owners, ${tasks} trivial tasks per mode):\n` +
        `  min_nodes 1:                 ${(single.runs / single.tasks).toFixed(2)} runs/task, ${ms(single.cpuPerTaskMs)} CPU/task (server + nodes)\n` +
        `  min_nodes 2 (quorum 2):      ${ratioLine(quorum, single, 2.2)}\n` +
        `  adaptive, trusted nodes:     ${ratioLine(adaptive, single, 1.3)}\n` +
        `  ${wrong} wrong results accepted, ${open} tasks not completed; ${client([single, quorum, adaptive])}`,
    );
  } finally {
    await server.stop();
  }
  for (const mode of ['replicate', 'adaptive'] as const) {
    const liarServer = await deps.startServer({ DATA_DIR: join(dataDir, `pglite-liar-${mode}`) });
    try {
      const setup = await deps.setUpOwners(liarServer.base, NODES);
      // Honest first: the liar earns its streak (and trust) like everyone else.
      await phase(deps, liarServer, setup, QUORUM, tasks);
      const before = await wrongResults(liarServer.base, setup.userKey);
      const lying = await phase(deps, liarServer, setup, mode === 'adaptive' ? ADAPTIVE : QUORUM, tasks, [
        setup.nodes[0].nodeId,
      ]);
      const after = await wrongResults(liarServer.base, setup.userKey);
      console.log(
        `planted liar, ${mode} (1 of ${NODES} nodes lies after ${tasks} honest quorum tasks): ` +
          `${after.wrong - before.wrong} wrong results accepted of ${tasks} tasks, ${lying.lies} lies told, ` +
          `${(lying.runs / lying.tasks).toFixed(2)} runs/task, ` +
          `liar ${lying.refused > 0 ? 'quarantined (its claims refused)' : 'not quarantined'}, ` +
          `${after.open} tasks not completed`,
      );
    } finally {
      await liarServer.stop();
    }
  }
}
