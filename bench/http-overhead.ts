/**
 * How much the full stack (Nest on Fastify, helmet, CORS, request ids, JSON logging, error filter) costs per
 * request, against a bare Fastify server answering the same JSON, measured in the same run on this machine.
 * Prints requests/s for both and their ratio; it asserts nothing. Then the heartbeat row (bench/heartbeat.ts):
 * node-key heartbeats against bare Fastify, load from a child process, on PGlite and, when BENCH_DATABASE_URL
 * is set, on PostgreSQL.
 *
 *   npm run bench:http            (REQUESTS=5000 CONCURRENCY=32 ROUNDS=3 to change the load)
 */
import Fastify from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app.factory';
import { loadConfig } from '../src/config/load-config';
import { heartbeatRow } from './heartbeat';
import { discardLogs, measureRps } from './support/load';

const REQUESTS = Number(process.env.REQUESTS ?? 5000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
/** The node tier allows 20 heartbeats a minute per key; the bench lifts it (the limiter still runs). */
const LIFTED_NODE_LIMITS = { RATE_LIMIT_NODE_RPM: '1000000', RATE_LIMIT_NODE_BURST: '100000' };

async function main(): Promise<void> {
  const bare = Fastify();
  bare.get('/api/v1/health', () => ({
    status: 'healthy',
    version: '0.0.0',
    timestamp: new Date().toISOString(),
  }));
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const bareUrl = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}/api/v1/health`;

  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-'));
  const config = loadConfig({ ...process.env, EMBEDDED_NODE: 'off', DATA_DIR: dataDir, LOG_LEVEL: 'info' });
  // Logs are formatted (part of the cost) but discarded.
  const app = await createApp(config, { logDestination: discardLogs });
  await app.listen(0, '127.0.0.1');
  const appUrl = `${await app.getUrl()}/api/v1/health`;

  const load = (url: string) => measureRps(url, { requests: REQUESTS, concurrency: CONCURRENCY });
  await load(bareUrl); // warm-up both
  await load(appUrl);
  const bareRps = await load(bareUrl);
  const appRps = await load(appUrl);
  console.log(`bare fastify : ${bareRps.toFixed(0)} req/s`);
  console.log(`vcp full app : ${appRps.toFixed(0)} req/s`);
  console.log(
    `ratio app/bare: ${(appRps / bareRps).toFixed(2)} (${REQUESTS} requests, concurrency ${CONCURRENCY})`,
  );

  await app.close();
  await bare.close();

  const databases: [string, Record<string, string>][] = [['PGlite', {}]];
  if (process.env.BENCH_DATABASE_URL)
    databases.push(['PostgreSQL', { DATABASE_URL: process.env.BENCH_DATABASE_URL }]);
  for (const [name, env] of databases) {
    const nodeDir = mkdtempSync(join(tmpdir(), 'vcp-bench-'));
    const nodeConfig = loadConfig({
      ...process.env,
      EMBEDDED_NODE: 'off',
      DATABASE_URL: undefined,
      ...env,
      ...LIFTED_NODE_LIMITS,
      DATA_DIR: nodeDir,
      LOG_LEVEL: 'info',
    });
    const nodeApp = await createApp(nodeConfig, { logDestination: discardLogs });
    await nodeApp.listen(0, '127.0.0.1');
    await heartbeatRow(nodeApp, name, { requests: REQUESTS, concurrency: CONCURRENCY, rounds: ROUNDS });
    await nodeApp.close();
    rmSync(nodeDir, { recursive: true, force: true });
  }
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
