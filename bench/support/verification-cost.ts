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
  const report = await deps.runTaskNodes({
    mode: 'throughput',
    base: server.base,
    nodes: setup.nodes,
    max: BATCH,
    expected: Infinity,
    untilIdle: true,
    liars,
    serverPid: server.child.pid,
  });
  // The drain ends after 1 s of idle polling: only the time until the last result counts, on both sides.
  const clientCpu = (report.cpuShare * report.elapsedMs!) / 1000;
  const serverUsed = report.serverCpuSeconds!;
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
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const client = (phases: Phase[]) => {
  const worst = Math.max(...phases.map((p) => p.clientShare));
  return `nodes' client CPU up to ${(worst * 100).toFixed(0)} % of a core (${worst >= 0.9 ? 'SATURATED' : 'not saturated'})`;
};

/** One mode's line: runs per task, CPU per task, and the median of its per-round ratios to min_nodes 1. */
function modeLine(label: string, phases: Phase[], baselines: Phase[], target: number | null): string {
  const ratios = phases.map((phase, i) => phase.cpuPerTaskMs / baselines[i].cpuPerTaskMs);
  const ratio = median(ratios);
  const runs = median(phases.map((phase) => phase.runs / phase.tasks));
  const verdict = target === null ? '' : `; target ≤ ${target}: ${ratio <= target ? 'met' : 'MISSED'}`;
  return (
    `  ${label.padEnd(26)} ${runs.toFixed(2)} runs/task, ${ms(median(phases.map((p) => p.cpuPerTaskMs)))} ` +
    `CPU/task (server + nodes), ${ratio.toFixed(2)}× min_nodes 1 ` +
    `(rounds ${ratios.map((r) => r.toFixed(2)).join(', ')})${verdict}`
  );
}

export async function verificationRows(
  deps: VerificationDeps,
  dataDir: string,
  tasks: number,
  rounds: number,
): Promise<void> {
  const server = await deps.startServer({ DATA_DIR: join(dataDir, 'pglite-verification') });
  try {
    const setup = await deps.setUpOwners(server.base, NODES);
    // Warm-up (JIT, the database's caches and prepared statements) and the nodes' valid streaks (≈ 2·tasks/8
    // each, so adaptive replication runs with trusted nodes: trust probability 1 − 1/streak); not measured.
    await phase(deps, server, setup, BASELINE, Math.ceil(tasks / 4));
    await phase(deps, server, setup, QUORUM, tasks);
    const measured = { single: [] as Phase[], quorum: [] as Phase[], adaptive: [] as Phase[] };
    // Interleaved rounds: this VM's speed drifts by more than the differences measured.
    for (let round = 0; round < rounds; round++) {
      measured.single.push(await phase(deps, server, setup, BASELINE, tasks));
      measured.quorum.push(await phase(deps, server, setup, QUORUM, tasks));
      measured.adaptive.push(await phase(deps, server, setup, ADAPTIVE, tasks));
    }
    const { wrong, open } = await wrongResults(server.base, setup.userKey);
    const all = [...measured.single, ...measured.quorum, ...measured.adaptive];
    console.log(
      `verification cost (PGlite, ${NODES} signed test nodes of ${NODES} owners, ${tasks} trivial tasks per mode ` +
        `and round, ${rounds} interleaved rounds, medians; CPU of server and nodes until the last result):\n` +
        `${modeLine('min_nodes 1', measured.single, measured.single, null)}\n` +
        `${modeLine('min_nodes 2 (quorum 2)', measured.quorum, measured.single, 2.2)}\n` +
        `${modeLine('adaptive, trusted nodes', measured.adaptive, measured.single, 1.3)}\n` +
        `  ${wrong} wrong results accepted, ${open} tasks not completed; ${client(all)}`,
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
