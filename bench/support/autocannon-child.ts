/**
 * The load generator's process: runs autocannon (as a library) against one URL and prints one JSON line with
 * what it measured and how much CPU it used itself. Started by the harness (http-harness.ts), never inside a
 * measured server: a generator in the server's process measures itself (see STACK.md).
 */
import autocannon from 'autocannon';
import type { LoadJob, LoadResult } from './http-harness';

async function main(): Promise<void> {
  const job = JSON.parse(process.env.VCP_LOAD_JOB ?? '{}') as LoadJob;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await autocannon({
    url: job.url,
    method: job.method,
    headers: job.headers,
    body: job.body,
    connections: job.connections,
    duration: job.durationSecs,
  });
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const ok = result['2xx'];
  const out: LoadResult = {
    rps: ok / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    generatorCpu: (cpu.user + cpu.system) / 1000 / wallMs,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
