/**
 * Throttler overhead: one route with the rate-limit guard against the same handler exempt from it
 * (@NoRateLimit), in memory and on Redis (REDIS_URL, default redis://127.0.0.1:6379), measured in one run
 * through the shared harness (support/http-harness.ts). Limits are set high so nothing is refused: this
 * measures the cost of counting. Prints ratios; asserts nothing.
 *
 *   npm run bench:rate-limit        (CONNECTIONS=50 DURATION=8 ROUNDS=3)
 */
import { LIFTED_RATE_LIMITS } from './support/bench-env';
import {
  BenchServer,
  formatRatio,
  measureRows,
  printTable,
  ratio,
  Row,
  startServer,
} from './support/http-harness';

async function main(): Promise<void> {
  const servers: BenchServer[] = [];
  try {
    const bare = await startServer('bare', 'bare-fastify');
    servers.push(bare);
    const nest = await startServer('nest', 'nest-minimal');
    servers.push(nest);
    const env = { ...LIFTED_RATE_LIMITS, BENCH_MODULE: 'rate-limit' };
    const memory = await startServer('vcp-memory', 'vcp', { ...env, REDIS_URL: '' });
    servers.push(memory);
    const redis = await startServer('vcp-redis', 'vcp', {
      ...env,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    });
    servers.push(redis);
    const rows: Row[] = [
      { label: 'bare fastify GET /health', server: bare, path: '/api/v1/health', isBare: true },
      { label: 'nest minimal GET /health', server: nest, path: '/api/v1/health' },
    ];
    for (const [where, server] of [
      ['in memory', memory],
      ['on Redis', redis],
    ] as const) {
      rows.push({ label: `vcp exempt (${where})`, server, path: '/api/v1/bench/free' });
      rows.push({ label: `vcp limited (${where})`, server, path: '/api/v1/bench/limited' });
    }
    const results = await measureRows(rows);
    printTable(results, 'bench:rate-limit');
    for (const at of [2, 4]) {
      const r = ratio(results, results[at + 1], results[at]);
      console.log(`${results[at + 1].row.label} ÷ ${results[at].row.label}: ${formatRatio(r)}`);
    }
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
