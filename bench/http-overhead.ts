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
import { Writable } from 'node:stream';
import { createApp } from '../src/app.factory';
import { loadConfig } from '../src/config/load-config';

const REQUESTS = Number(process.env.REQUESTS ?? 5000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);

async function load(url: string): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next++ < REQUESTS) {
      const res = await fetch(url);
      if (res.status !== 200) throw new Error(`unexpected ${res.status} from ${url}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return REQUESTS / ((performance.now() - started) / 1000);
}

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
  // Logs go to a sink that discards them: the cost of formatting them is part of what is measured.
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const app = await createApp(config, { logDestination: { write: (msg: string) => sink.write(msg) } });
  await app.listen(0, '127.0.0.1');
  const appUrl = `${await app.getUrl()}/api/v1/health`;

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
