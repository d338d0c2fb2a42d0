/**
 * bench:http — what VCP's HTTP pipeline costs against bare Fastify and a minimal Nest-on-Fastify app answering
 * the same JSON, all measured in one run by the shared harness (support/http-harness.ts: every server and the
 * autocannon load generator in child processes, warm-up, interleaved rounds). Rows:
 *   - GET /api/v1/health (issue 14: ÷bare ≥ 0.60, ÷nest ≥ 0.75, p99 ≤ 3 × bare's)
 *   - GET /api/v1/nodes/:id of the caller's own node with an API key (≥ 0.35) and with a JWT (≥ 0.40):
 *     authenticated, rate-limited (limits lifted, the limiter still counts) and metered; one database read
 *     each, so on PGlite and (BENCH_DATABASE_URL) on PostgreSQL, the database deployments use
 *   - GET /api/v1/programs with the same API key and JWT, for reference (no target): the same pipeline with no
 *     database read, so the node rows' distance to their targets splits into the read and the rest
 *   - PUT /api/v1/nodes/:id/heartbeat with the node key and telemetry (issue 15: ≥ 0.15 on PGlite, ≥ 0.20 on
 *     PostgreSQL), against bare Fastify and minimal Nest answering a PUT of the same shape
 * PostgreSQL rows run when BENCH_DATABASE_URL names a server (a private database is created and dropped).
 * Asserts nothing; prints numbers and ratios.
 *
 *   npm run bench:http          (CONNECTIONS=50 DURATION=8 WARMUP=2 ROUNDS=3 BARE_FLOOR_RPS=10000;
 *                                ONLY=<regex> keeps the VCP rows whose label matches, e.g. ONLY=health)
 */
import { LIFTED_RATE_LIMITS } from './support/bench-env';
import { benchPostgres } from './support/databases';
import {
  BenchServer,
  formatRatio,
  measureRows,
  p99Multiple,
  printTable,
  Row,
  settings,
  startServer,
} from './support/http-harness';

const TELEMETRY = JSON.stringify({
  cpu_usage: 21.5,
  memory_usage: 40,
  network_latency_ms: 12,
  active_tasks: 1,
});
const JSON_BODY = { 'content-type': 'application/json' };

function vcpRows(vcp: BenchServer, database: string, databaseFreeRows: boolean): Row[] {
  const { api_key, access_token, node_id, node_key } = vcp.fixtures;
  const health: Row = {
    label: 'vcp GET /health',
    server: vcp,
    path: '/api/v1/health',
    targets: [
      { of: 'bare', atLeast: 0.6 },
      { of: 'nest', atLeast: 0.75 },
    ],
  };
  // Answered from memory: on the PGlite server only (the database plays no part).
  const withoutRead: Row[] = [
    {
      label: 'vcp GET /programs, API key (no db read)',
      server: vcp,
      path: '/api/v1/programs',
      headers: { 'x-api-key': api_key },
    },
    {
      label: 'vcp GET /programs, JWT (no db read)',
      server: vcp,
      path: '/api/v1/programs',
      headers: { authorization: `Bearer ${access_token}` },
    },
  ];
  return [
    ...(databaseFreeRows ? [health, ...withoutRead] : []),
    {
      label: `vcp GET own node, API key (${database})`,
      server: vcp,
      path: `/api/v1/nodes/${node_id}`,
      headers: { 'x-api-key': api_key },
      targets: [{ of: 'bare', atLeast: 0.35 }],
    },
    {
      label: `vcp GET own node, JWT (${database})`,
      server: vcp,
      path: `/api/v1/nodes/${node_id}`,
      headers: { authorization: `Bearer ${access_token}` },
      targets: [{ of: 'bare', atLeast: 0.4 }],
    },
    {
      label: `vcp PUT heartbeat, node key (${database})`,
      server: vcp,
      path: `/api/v1/nodes/${node_id}/heartbeat`,
      method: 'PUT',
      headers: { ...JSON_BODY, 'x-api-key': node_key },
      body: TELEMETRY,
      bare: 'bare fastify PUT heartbeat',
      nest: 'nest minimal PUT heartbeat',
      targets: [{ of: 'bare', atLeast: database === 'PGlite' ? 0.15 : 0.2 }],
    },
  ];
}

async function main(): Promise<void> {
  const postgres = await benchPostgres();
  const servers: BenchServer[] = [];
  try {
    const vcpEnv = { ...LIFTED_RATE_LIMITS, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' };
    const bare = await startServer('bare', 'bare-fastify');
    servers.push(bare);
    const nest = await startServer('nest', 'nest-minimal');
    servers.push(nest);
    const pglite = await startServer('vcp-pglite', 'vcp', { ...vcpEnv, DATABASE_URL: '' });
    servers.push(pglite);
    const pg = postgres
      ? await startServer('vcp-postgres', 'vcp', { ...vcpEnv, DATABASE_URL: postgres.url })
      : null;
    if (pg) servers.push(pg);

    const rows: Row[] = [
      { label: 'bare fastify GET /health', server: bare, path: '/api/v1/health', isBare: true },
      { label: 'nest minimal GET /health', server: nest, path: '/api/v1/health' },
      ...vcpRows(pglite, 'PGlite', true),
      ...(pg ? vcpRows(pg, 'PostgreSQL', false) : []),
      {
        label: 'bare fastify PUT heartbeat',
        server: bare,
        path: '/api/v1/nodes/bench/heartbeat',
        method: 'PUT',
        headers: JSON_BODY,
        body: TELEMETRY,
        isBare: true,
        noFloor: true,
        bare: 'bare fastify PUT heartbeat',
        nest: 'nest minimal PUT heartbeat',
      },
      {
        label: 'nest minimal PUT heartbeat',
        server: nest,
        path: '/api/v1/nodes/bench/heartbeat',
        method: 'PUT',
        headers: JSON_BODY,
        body: TELEMETRY,
        bare: 'bare fastify PUT heartbeat',
        nest: 'nest minimal PUT heartbeat',
      },
    ];
    const only = process.env.ONLY ? new RegExp(process.env.ONLY, 'i') : null;
    const results = await measureRows(
      only ? rows.filter((row) => row.isBare || row.label.startsWith('nest') || only.test(row.label)) : rows,
    );
    printTable(results, `bench:http (LOG_LEVEL=${vcpEnv.LOG_LEVEL})`);
    const health = results.find((r) => r.row.label === 'vcp GET /health');
    if (!health) return;
    const p99 = p99Multiple(results, health, results[0]);
    console.log(
      `p99 of vcp GET /health ÷ bare fastify's p99: ${formatRatio(p99)} (target ≤ 3.00, ` +
        `${p99.value === null ? 'not judged' : p99.value <= 3 ? 'met' : 'MISSED'}; ${settings.connections} connections)`,
    );
  } finally {
    for (const server of servers.reverse()) await server.stop();
    await postgres?.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
