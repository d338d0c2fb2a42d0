/**
 * The one load harness of the HTTP benches. Every measured server runs in a child process of its own
 * (bench/servers/*), and so does the load generator (autocannon, support/autocannon-child.ts): this process
 * only orchestrates. After a warm-up of every row, rounds are interleaved (each round measures every row once,
 * in order), so drift in machine load falls on all rows alike. Each row is printed with its median req/s,
 * p50 and p99 latency and its ratio to the two baselines measured in the same run: bare Fastify and a minimal
 * Nest-on-Fastify app. A ratio is refused (and the reason printed) for rounds where the generator, not the
 * server, set the pace: the generator's own CPU near one full core, or bare Fastify below a sanity floor; or
 * where the hypervisor took part of the machine (steal) while a row of the ratio ran.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { machineTicks, STEAL_LIMIT, stealShare } from './process-cpu';

export interface LoadJob {
  url: string;
  method: 'GET' | 'PUT' | 'POST';
  headers: Record<string, string>;
  body?: string;
  connections: number;
  durationSecs: number;
}

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** The generator's own CPU time ÷ wall time: 1.0 is one core busy the whole run. */
  generatorCpu: number;
  /** The measured server's CPU time per answered request (from /proc), in µs: robust to a busy machine. */
  serverCpuUs?: number;
  /** The share of the machine's time the hypervisor took during the run (steal, from /proc/stat). */
  stealShare?: number;
}

/** User + system CPU of a process in ms, from /proc/<pid>/stat (Linux; clock ticks of 10 ms). */
function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14, 15)
  } catch {
    return null; // not Linux: the column stays empty
  }
}

export const settings = {
  connections: Number(process.env.CONNECTIONS ?? 50),
  durationSecs: Number(process.env.DURATION ?? 8),
  warmupSecs: Number(process.env.WARMUP ?? 2),
  rounds: Number(process.env.ROUNDS ?? 3),
  /**
   * Rounds measured beyond `rounds`, at most, while a row with a target has fewer than `rounds` ratios that were
   * not refused (a noisy VM: steal comes in bursts of seconds). Refusal never looks at the ratio itself, so
   * measuring again does not favour any outcome.
   */
  maxExtraRounds: Number(process.env.MAX_EXTRA_ROUNDS ?? 3),
  /** Below this, bare Fastify (which does nearly nothing) was starved: the machine or generator is the limit. */
  bareFloorRps: Number(process.env.BARE_FLOOR_RPS ?? 10_000),
  /** At or above this share of a core, the generator itself is the bottleneck. */
  generatorCpuLimit: Number(process.env.GENERATOR_CPU_LIMIT ?? 0.95),
};

export interface BenchServer {
  name: string;
  pid: number;
  url: string;
  fixtures: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts dist/bench/servers/<script>.js with `env` and waits for its `{url, fixtures}` line. */
export function startServer(
  name: string,
  script: string,
  env: Record<string, string> = {},
): Promise<BenchServer> {
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, '..', 'servers', `${script}.js`)], {
    // Benches measure the API alone: no embedded node claiming in the measured process.
    env: { ...process.env, EMBEDDED_NODE: 'off', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server ${name} exited (${code}) before listening`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const info = JSON.parse(line) as { url: string; fixtures?: Record<string, string> };
      resolve({
        name,
        pid: child.pid!,
        url: info.url,
        fixtures: info.fixtures ?? {},
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}

/** One autocannon run in a child process. Any non-2xx answer or connection error fails the bench. */
export function runLoad(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'autocannon-child.js')], {
      env: { ...process.env, VCP_LOAD_JOB: JSON.stringify(job) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited ${code} for ${job.url}`));
      const result = JSON.parse(out) as LoadResult;
      // A non-2xx answer is a bench bug (a limit not lifted, a fixture gone): stop. Connection errors and
      // timeouts are the machine's doing: the round is kept, and refused as a ratio (see saturation).
      if (result.non2xx > 0)
        return reject(
          new Error(`${job.method} ${job.url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`),
        );
      resolve(result);
    });
  });
}

export interface Row {
  /** Printed label. */
  label: string;
  server: BenchServer;
  path: string;
  method?: LoadJob['method'];
  headers?: Record<string, string>;
  body?: string;
  /** Labels of the rows this one is compared with (default: the first two rows, bare and Nest). */
  bare?: string;
  nest?: string;
  /** Printed beside the ratios, e.g. "÷bare ≥ 0.60". */
  targets?: { of: 'bare' | 'nest'; atLeast: number }[];
  /** This row is a bare-Fastify baseline: the sanity floor applies to it (unless `noFloor`). */
  isBare?: boolean;
  /**
   * A bare baseline that does real work (parsing a JSON body): it answers well under the floor on a slow machine
   * whose bare health row shows the round was not starved, so only the generator checks apply to it.
   */
  noFloor?: boolean;
}

export interface RowResult {
  row: Row;
  rounds: LoadResult[];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
};

/** Why a measurement cannot be a baseline or a ratio's numerator, or null when it can. */
export function saturation(result: LoadResult, isBare: boolean): string | null {
  if (result.ok === 0) return 'not one answer completed in the run: the machine is overloaded';
  if (result.errors > 0)
    return `${result.errors} connection errors or timeouts beside ${result.ok} answers: the machine is overloaded`;
  if (result.generatorCpu >= settings.generatorCpuLimit)
    return `generator used ${(result.generatorCpu * 100).toFixed(0)} % of a core (limit ${(settings.generatorCpuLimit * 100).toFixed(0)} %): it set the pace`;
  if (isBare && result.rps < settings.bareFloorRps)
    return `bare Fastify answered ${result.rps.toFixed(0)} req/s, below the sanity floor of ${settings.bareFloorRps} (BARE_FLOOR_RPS): the machine or the generator is the limit`;
  return null;
}

/** Why a measurement was not of the whole machine (the hypervisor took part of it), or null. */
function stolen(result: LoadResult, label: string): string | null {
  const steal = result.stealShare ?? 0;
  if (steal < STEAL_LIMIT) return null;
  return `${label}: the hypervisor took ${(steal * 100).toFixed(0)} % of the machine's time (steal; limit ${(STEAL_LIMIT * 100).toFixed(0)} %): the machine was not all there`;
}

/**
 * Warm-up, then `settings.rounds` interleaved rounds over every row, and up to `settings.maxExtraRounds` more
 * while needsAnotherRound says a target still lacks accepted rounds.
 */
export async function measureRows(rows: Row[]): Promise<RowResult[]> {
  const job = (row: Row, durationSecs: number): LoadJob => ({
    url: `${row.server.url}${row.path}`,
    method: row.method ?? 'GET',
    headers: row.headers ?? {},
    body: row.body,
    connections: settings.connections,
    durationSecs,
  });
  for (const row of rows) await runLoad(job(row, settings.warmupSecs));
  const results: RowResult[] = rows.map((row) => ({ row, rounds: [] }));
  const maxRounds = settings.rounds + settings.maxExtraRounds;
  for (
    let round = 1;
    round <= settings.rounds || (round <= maxRounds && needsAnotherRound(results));
    round++
  ) {
    for (const result of results) {
      const cpuBefore = processCpuMs(result.row.server.pid);
      const machineBefore = machineTicks();
      const measured = await runLoad(job(result.row, settings.durationSecs));
      measured.stealShare = stealShare(machineBefore, machineTicks());
      const cpuAfter = processCpuMs(result.row.server.pid);
      if (cpuBefore !== null && cpuAfter !== null && measured.ok > 0)
        measured.serverCpuUs = ((cpuAfter - cpuBefore) * 1000) / measured.ok;
      result.rounds.push(measured);
      process.stderr.write(
        `  round ${round}: ${result.row.label.padEnd(44)} ${measured.rps.toFixed(0).padStart(6)} req/s, ` +
          `server CPU ${measured.serverCpuUs?.toFixed(0) ?? '?'} µs/req, ` +
          `generator CPU ${(measured.generatorCpu * 100).toFixed(0)} %, steal ${(measured.stealShare * 100).toFixed(0)} %\n`,
      );
    }
  }
  return results;
}

/** The bare and minimal-Nest rows a row is compared with. */
function baselinesOf(results: RowResult[], result: RowResult): { bare: RowResult; nest: RowResult } {
  const byLabel = (label: string) => results.find((r) => r.row.label === label)!;
  return {
    bare: byLabel(result.row.bare ?? results[0].row.label),
    nest: byLabel(result.row.nest ?? results[1].row.label),
  };
}

/** Whether some row's target has fewer than `settings.rounds` rounds whose ratio was not refused. */
export function needsAnotherRound(results: RowResult[]): boolean {
  return results.some((result) =>
    (result.row.targets ?? []).some((target) => {
      const baseline = baselinesOf(results, result)[target.of];
      return ratio(results, result, baseline).rounds.length < settings.rounds;
    }),
  );
}

export interface Ratio {
  value: number | null;
  /** Per-round ratios that were allowed. */
  rounds: number[];
  refused: string[];
}

/**
 * Why round `i` cannot give ratios, or null: a bare-Fastify row of that round below the floor (the whole round
 * was starved), or the generator pegged or the machine stolen from while measuring the baseline or the row
 * itself (steal during another row of the round says nothing about these two).
 */
function roundRefusal(all: RowResult[], row: RowResult, baseline: RowResult, i: number): string | null {
  for (const bare of all.filter((r) => r.row.isBare)) {
    const why = saturation(bare.rounds[i], !bare.row.noFloor);
    if (why) return why;
  }
  const [base, measured] = [baseline.rounds[i], row.rounds[i]];
  return (
    saturation(base, false) ??
    saturation(measured, false) ??
    stolen(base, baseline.row.label) ??
    stolen(measured, row.row.label)
  );
}

/** Median over rounds of row ÷ baseline, leaving out rounds that were refused. */
export function ratio(all: RowResult[], row: RowResult, baseline: RowResult): Ratio {
  const rounds: number[] = [];
  const refused: string[] = [];
  row.rounds.forEach((measured, i) => {
    const why = roundRefusal(all, row, baseline, i);
    if (why) refused.push(`round ${i + 1}: ${why}`);
    else rounds.push(measured.rps / baseline.rounds[i].rps);
  });
  return { value: rounds.length > 0 ? median(rounds) : null, rounds, refused };
}

const fmt = (r: Ratio) => (r.value === null ? 'refused' : r.value.toFixed(2));
const cell = (self: boolean, r: Ratio) => (self ? '—' : fmt(r));

/** Prints one line per row: median req/s, p50, p99, ratio to bare and to Nest (each with its spread). */
export function printTable(results: RowResult[], title: string): void {
  const refusals = new Set<string>();
  const measured = results[0]?.rounds.length ?? 0;
  const extra = measured - settings.rounds;
  console.log(
    `\n${title} on Node ${process.versions.node} — autocannon -c ${settings.connections} ` +
      `-d ${settings.durationSecs} in a child process, ` +
      `${measured} interleaved rounds${extra > 0 ? ` (${extra} more for refused ones)` : ''}, medians`,
  );
  console.log(
    `${'row'.padEnd(46)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ` +
      `${'cpu µs'.padStart(7)} ${'÷bare'.padStart(8)} ${'÷nest'.padStart(8)}  target`,
  );
  for (const result of results) {
    const { bare, nest } = baselinesOf(results, result);
    const toBare = ratio(results, result, bare);
    const toNest = ratio(results, result, nest);
    for (const why of [...toBare.refused, ...toNest.refused]) refusals.add(why);
    const verdict = (result.row.targets ?? [])
      .map((target) => {
        const value = target.of === 'bare' ? toBare.value : toNest.value;
        const judged = value === null ? 'not judged' : value >= target.atLeast ? 'met' : 'MISSED';
        return `÷${target.of} ≥ ${target.atLeast.toFixed(2)} ${judged}`;
      })
      .join(', ');
    console.log(
      `${result.row.label.padEnd(46)} ${median(result.rounds.map((r) => r.rps))
        .toFixed(0)
        .padStart(7)} ` +
        `${median(result.rounds.map((r) => r.p50Ms))
          .toFixed(1)
          .padStart(7)} ` +
        `${median(result.rounds.map((r) => r.p99Ms))
          .toFixed(1)
          .padStart(7)} ` +
        `${median(result.rounds.map((r) => r.serverCpuUs ?? NaN))
          .toFixed(0)
          .padStart(7)} ` +
        `${cell(bare === result, toBare).padStart(8)} ${cell(nest === result, toNest).padStart(8)}  ${verdict}`,
    );
  }
  console.log(
    'cpu µs: CPU time of the server process per answered request (from /proc; PGlite runs inside the server, ' +
      'PostgreSQL does not) — a busy machine slows req/s but changes this much less',
  );
  if (refusals.size > 0) {
    console.log(
      'ratios refused for these rounds (the load generator or the machine, not the server, set the pace):',
    );
    for (const why of refusals) console.log(`  - ${why}`);
  }
}

/** p99 of a row against another's, per round (median), with the same refusals as a ratio. */
export function p99Multiple(all: RowResult[], row: RowResult, baseline: RowResult): Ratio {
  const rounds: number[] = [];
  const refused: string[] = [];
  row.rounds.forEach((measured, i) => {
    const why = roundRefusal(all, row, baseline, i);
    if (why) refused.push(`round ${i + 1}: ${why}`);
    else rounds.push(measured.p99Ms / Math.max(baseline.rounds[i].p99Ms, 1));
  });
  return { value: rounds.length > 0 ? median(rounds) : null, rounds, refused };
}

export { fmt as formatRatio, median };
