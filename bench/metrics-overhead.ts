/**
 * What the HTTP metrics cost: `GET /api/v1/health` on the full app with the metrics hook (as shipped) against
 * the same app with the hook left out, each in its own server process, measured in interleaved rounds by the
 * shared harness (support/http-harness.ts, load from a child process). Then the hook's own work per request,
 * timed in this process. Prints numbers and the ratio; asserts nothing. Target (issue 6): the hook costs
 * < 10 % of throughput, i.e. ratio ≥ 0.90.
 *
 *   npm run bench:metrics         (CONNECTIONS=50 DURATION=8 ROUNDS=3)
 */
import { Registry } from 'prom-client';
import { VcpMetrics } from '../src/metrics/vcp-metrics';
import {
  BenchServer,
  formatRatio,
  measureRows,
  median,
  printTable,
  ratio,
  startServer,
} from './support/http-harness';

function hookWorkUs(): number {
  const metrics = new VcpMetrics(new Registry());
  const calls = 1_000_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) metrics.observeHttp('GET', '/api/v1/health', 200, 0.0012);
  return Number(process.hrtime.bigint() - started) / calls / 1000;
}

async function main(): Promise<void> {
  const servers: BenchServer[] = [];
  try {
    const bare = await startServer('bare', 'bare-fastify');
    servers.push(bare);
    const nest = await startServer('nest', 'nest-minimal');
    servers.push(nest);
    const withHook = await startServer('vcp-with', 'vcp');
    servers.push(withHook);
    const without = await startServer('vcp-without', 'vcp', { BENCH_WITHOUT_METRICS_HOOK: '1' });
    servers.push(without);
    const results = await measureRows([
      { label: 'bare fastify GET /health', server: bare, path: '/api/v1/health', isBare: true },
      { label: 'nest minimal GET /health', server: nest, path: '/api/v1/health' },
      { label: 'vcp GET /health, with metrics hook', server: withHook, path: '/api/v1/health' },
      { label: 'vcp GET /health, without metrics hook', server: without, path: '/api/v1/health' },
    ]);
    printTable(results, 'bench:metrics');
    const r = ratio(results, results[2], results[3]);
    const cost = r.value === null ? 'not judged' : `${((1 - r.value) * 100).toFixed(1)} %`;
    console.log(`ratio with/without: ${formatRatio(r)} → metrics cost ${cost} (target < 10 %)`);
    const requestUs = 1e6 / median(results[3].rounds.map((x) => x.rps));
    const hookUs = hookWorkUs();
    console.log(
      `hook work per request: ${hookUs.toFixed(2)} µs of ${requestUs.toFixed(0)} µs per request ` +
        `(${((hookUs / requestUs) * 100).toFixed(2)} %)`,
    );
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
