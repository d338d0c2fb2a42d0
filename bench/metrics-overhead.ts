/**
 * What the HTTP metrics cost: throughput of `GET /api/v1/health` on the full app with the metrics hook (as
 * shipped) against the same app with the hook left out, both in one process and measured in alternating
 * rounds so drift on a shared machine hits both alike, in two processes that boot the two apps in opposite
 * orders. The load comes from a worker thread. Prints the median req/s of each and their ratio; it asserts
 * nothing. Target (issue 6): the hook costs < 10 % of throughput, i.e. ratio ≥ 0.90.
 *
 *   npm run bench:metrics         (REQUESTS=4000 CONCURRENCY=32 ROUNDS=5 to change the load)
 */
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureApp, createFastifyAdapter } from '../src/app.factory';
import { AppModule } from '../src/app.module';
import { AppConfig } from '../src/config/app-config';
import { loadConfig } from '../src/config/load-config';
import { HttpMetricsHook } from '../src/metrics/http-metrics.hook';
import { VcpMetrics } from '../src/metrics/vcp-metrics';
import { discardLogs, measureRpsFromWorker } from './support/load';

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
type Variant = 'with' | 'without';
interface PairResult {
  rps: Record<Variant, number[]>;
  hookUs: number;
}

/** One process, two apps booted in the given order, measured in alternating rounds. */
async function measurePair(bootFirst: Variant): Promise<PairResult> {
  const dirs = [mkdtempSync(join(tmpdir(), 'vcp-bench-m1-')), mkdtempSync(join(tmpdir(), 'vcp-bench-m0-'))];
  const config = (dir: string) =>
    loadConfig({ ...process.env, EMBEDDED_NODE: 'off', DATA_DIR: dir, LOG_LEVEL: 'info' });
  const apps = {} as Record<Variant, NestFastifyApplication>;
  const order: Variant[] = bootFirst === 'with' ? ['with', 'without'] : ['without', 'with'];
  for (const [i, variant] of order.entries()) apps[variant] = await boot(config(dirs[i]), variant === 'with');
  const urls = {
    with: `${await apps.with.getUrl()}/api/v1/health`,
    without: `${await apps.without.getUrl()}/api/v1/health`,
  };
  const load = (url: string) => measureRpsFromWorker(url, { requests: REQUESTS, concurrency: CONCURRENCY });
  await load(urls.with); // warm-up both
  await load(urls.without);
  const rps: Record<Variant, number[]> = { with: [], without: [] };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so neither always runs on the warmer or quieter half of a round.
    const turn: Variant[] = round % 2 === 0 ? ['with', 'without'] : ['without', 'with'];
    for (const variant of turn) rps[variant].push(await load(urls[variant]));
  }
  // The hook's own work per request, without the network in the way.
  const metrics = apps.with.get(VcpMetrics);
  const calls = 1_000_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) metrics.observeHttp('GET', '/api/v1/health', 200, 0.0012);
  const hookUs = Number(process.hrtime.bigint() - started) / calls / 1000;
  await apps.with.close();
  await apps.without.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  return { rps, hookUs };
}

function runChild(bootFirst: Variant): Promise<PairResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename], {
      env: { ...process.env, BENCH_PAIR: bootFirst },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) reject(new Error(`bench child exited ${code}: ${out}`));
      else resolve(JSON.parse(line) as PairResult);
    });
  });
}

async function main(): Promise<void> {
  const pair = process.env.BENCH_PAIR as Variant | undefined;
  if (pair) {
    process.stdout.write(`${JSON.stringify(await measurePair(pair))}\n`);
    return;
  }
  // Of two apps in one process, the one booted first ran a few per cent slower in an A/A run (both without
  // the hook), so each order gets a process of its own and the ratio is the mean over both.
  const results = [await runChild('with'), await runChild('without')];
  const ratios = results.map((r) => median(r.rps.with) / median(r.rps.without));
  for (const [i, r] of results.entries()) {
    const rounds = (v: Variant) => r.rps[v].map((x) => x.toFixed(0)).join(', ');
    console.log(`process ${i + 1} (${i === 0 ? 'with' : 'without'} booted first):`);
    console.log(
      `  without metrics hook: ${median(r.rps.without).toFixed(0)} req/s (rounds: ${rounds('without')})`,
    );
    console.log(`  with metrics hook   : ${median(r.rps.with).toFixed(0)} req/s (rounds: ${rounds('with')})`);
    console.log(`  ratio with/without  : ${ratios[i].toFixed(3)}`);
  }
  const ratio = (ratios[0] + ratios[1]) / 2;
  const requestUs = 1e6 / median(results.flatMap((r) => r.rps.without));
  const hookUs = (results[0].hookUs + results[1].hookUs) / 2;
  console.log(
    `ratio with/without (mean of both orders): ${ratio.toFixed(3)} → metrics cost ${((1 - ratio) * 100).toFixed(1)} % ` +
      `(target < 10 %; ${ROUNDS} rounds of ${REQUESTS} requests, concurrency ${CONCURRENCY}, per process)`,
  );
  console.log(
    `hook work per request: ${hookUs.toFixed(2)} µs of ${requestUs.toFixed(0)} µs per request ` +
      `(${((hookUs / requestUs) * 100).toFixed(2)} %)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
