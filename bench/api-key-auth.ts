/**
 * Cost of API-key authentication: one route behind X-API-Key against the same handler with the guard skipped
 * (@Public), in the same run, through the shared harness (support/http-harness.ts: servers and autocannon in
 * child processes, interleaved rounds, bare Fastify and minimal Nest as baselines). Target: keyed ≥ 90 % of
 * open (checksum + HMAC + an in-memory cache; no bcrypt, no per-request query). Prints numbers; asserts nothing.
 *
 *   npm run bench:api-key          (CONNECTIONS=50 DURATION=8 ROUNDS=3)
 */
import { LIFTED_RATE_LIMITS } from './support/bench-env';
import {
  BenchServer,
  measureRows,
  printTable,
  ratio,
  formatRatio,
  startServer,
} from './support/http-harness';

async function main(): Promise<void> {
  const servers: BenchServer[] = [];
  try {
    const bare = await startServer('bare', 'bare-fastify');
    servers.push(bare);
    const nest = await startServer('nest', 'nest-minimal');
    servers.push(nest);
    const vcp = await startServer('vcp', 'vcp', {
      ...LIFTED_RATE_LIMITS,
      BENCH_MODULE: 'api-key',
      BCRYPT_COST: '4',
    });
    servers.push(vcp);
    const results = await measureRows([
      { label: 'bare fastify GET /health', server: bare, path: '/api/v1/health', isBare: true },
      { label: 'nest minimal GET /health', server: nest, path: '/api/v1/health' },
      { label: 'vcp GET /bench/open (@Public)', server: vcp, path: '/api/v1/bench/open' },
      {
        label: 'vcp GET /bench/keyed (X-API-Key)',
        server: vcp,
        path: '/api/v1/bench/keyed',
        headers: { 'x-api-key': vcp.fixtures.api_key },
      },
    ]);
    printTable(results, 'bench:api-key');
    const keyed = ratio(results, results[3], results[2]);
    console.log(
      `ratio keyed/open: ${formatRatio(keyed)} (target ≥ 0.90) ` +
        `${keyed.value === null ? 'not judged' : keyed.value >= 0.9 ? 'met' : 'MISSED'}`,
    );
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
