/**
 * How much the full stack (Nest on Fastify, helmet, CORS, request ids, JSON logging, error filter) costs per
 * request, against a bare Fastify server answering the same JSON, measured in the same run on this machine.
 * Prints requests/s for both and their ratio; it asserts nothing.
 *
 *   npm run bench:http            (REQUESTS=5000 CONCURRENCY=32 to change the load)
 */
import Fastify from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app.factory';
import { loadConfig } from '../src/config/load-config';
import { discardLogs, measureRps } from './support/load';

const REQUESTS = Number(process.env.REQUESTS ?? 5000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);

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
  const config = loadConfig({ ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'info' });
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
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
