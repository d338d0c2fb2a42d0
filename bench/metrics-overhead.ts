/**
 * What the HTTP metrics cost: throughput of `GET /api/v1/health` on the full app with the metrics hook (as
 * shipped) against the same app with the hook left out, both in this process and measured in alternating
 * rounds so drift on a shared machine hits both alike. Prints the median req/s of each and their ratio; it
 * asserts nothing. Target (issue 6): the hook costs < 10 % of throughput, i.e. ratio ≥ 0.90.
 *
 *   npm run bench:metrics         (REQUESTS=4000 CONCURRENCY=32 ROUNDS=5 to change the load)
 */
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureApp, createFastifyAdapter } from '../src/app.factory';
import { AppModule } from '../src/app.module';
import { AppConfig } from '../src/config/app-config';
import { loadConfig } from '../src/config/load-config';
import { HttpMetricsHook } from '../src/metrics/http-metrics.hook';
import { VcpMetrics } from '../src/metrics/vcp-metrics';
import { discardLogs, measureRps } from './support/load';

const REQUESTS = Number(process.env.REQUESTS ?? 4000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.ROUNDS ?? 5);

async function boot(config: AppConfig, withMetrics: boolean): Promise<NestFastifyApplication> {
  let builder = Test.createTestingModule({
    imports: [AppModule.forRoot(config, { logDestination: discardLogs })],
  });
  if (!withMetrics)
    builder = builder.overrideProvider(HttpMetricsHook).useValue({ register: () => undefined });
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), {
    bufferLogs: true,
  });
  await configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  return app;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const dirs = [mkdtempSync(join(tmpdir(), 'vcp-bench-m1-')), mkdtempSync(join(tmpdir(), 'vcp-bench-m0-'))];
  const config = (dir: string) => loadConfig({ ...process.env, DATA_DIR: dir, LOG_LEVEL: 'info' });
  const withMetrics = await boot(config(dirs[0]), true);
  const without = await boot(config(dirs[1]), false);
  const urls = {
    with: `${await withMetrics.getUrl()}/api/v1/health`,
    without: `${await without.getUrl()}/api/v1/health`,
  };
  const load = (url: string) => measureRps(url, { requests: REQUESTS, concurrency: CONCURRENCY });
  await load(urls.with); // warm-up both
  await load(urls.without);
  const rps = { with: [] as number[], without: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so neither always runs on the warmer or quieter half of a round.
    const order = round % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const);
    for (const variant of order) rps[variant].push(await load(urls[variant]));
  }
  const [on, off] = [median(rps.with), median(rps.without)];
  console.log(
    `without metrics hook: ${off.toFixed(0)} req/s (rounds: ${rps.without.map((r) => r.toFixed(0)).join(', ')})`,
  );
  console.log(
    `with metrics hook   : ${on.toFixed(0)} req/s (rounds: ${rps.with.map((r) => r.toFixed(0)).join(', ')})`,
  );
  console.log(
    `ratio with/without: ${(on / off).toFixed(3)} → metrics cost ${((1 - on / off) * 100).toFixed(1)} % ` +
      `(target < 10 %; ${ROUNDS} rounds of ${REQUESTS} requests, concurrency ${CONCURRENCY})`,
  );
  // The same cost measured without the network in the way: the hook's work per request, against the time a
  // whole request took (single-threaded server: 1 / req/s).
  const metrics = withMetrics.get(VcpMetrics);
  const calls = 1_000_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) metrics.observeHttp('GET', '/api/v1/health', 200, 0.0012);
  const hookUs = Number(process.hrtime.bigint() - started) / calls / 1000;
  const requestUs = 1e6 / off;
  console.log(
    `hook work per request: ${hookUs.toFixed(2)} µs of ${requestUs.toFixed(0)} µs per request ` +
      `(${((hookUs / requestUs) * 100).toFixed(2)} %)`,
  );
  await withMetrics.close();
  await without.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
