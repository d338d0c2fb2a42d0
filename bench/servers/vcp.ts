/**
 * VCP as a bench server: the real app (createApp, the same pipeline as dist/src/main.js) configured from the
 * environment, logging at LOG_LEVEL (default info) to /dev/null through the line batcher that production puts in
 * front of stdout, so lines are formatted, batched and written as in production. Once listening it creates the fixtures the rows need
 * (an account with its API key and an access token, a node of that account and its node key) through its own
 * HTTP routes, prints `{"url", "fixtures"}` and runs until SIGTERM.
 *
 *   BENCH_MODULE=api-key|rate-limit|login adds a bench controller (bench/servers/bench-controllers.ts)
 *   BENCH_WITHOUT_METRICS_HOOK=1      leaves the HTTP metrics hook out (bench:metrics)
 */
import 'reflect-metadata';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { configureApp, createApp, createFastifyAdapter } from '../../src/app.factory';
import { AppModule, AppModuleOptions } from '../../src/app.module';
import { AppConfig } from '../../src/config/app-config';
import { loadConfig } from '../../src/config/load-config';
import { LineBatcher } from '../../src/logging/line-batcher';
import { HttpMetricsHook } from '../../src/metrics/http-metrics.hook';
import { announce } from './announce';
import { BENCH_MODULES, BenchModuleName } from './bench-controllers';

async function boot(config: AppConfig, options: AppModuleOptions): Promise<NestFastifyApplication> {
  if (process.env.BENCH_WITHOUT_METRICS_HOOK !== '1') return createApp(config, options);
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config, options)] })
    .overrideProvider(HttpMetricsHook)
    .useValue({ register: () => undefined })
    .compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), {
    bufferLogs: true,
  });
  return configureApp(app, config);
}

async function json<T>(res: Promise<Response>, what: string): Promise<T> {
  const answer = await res;
  if (!answer.ok) throw new Error(`${what} failed: ${answer.status} ${await answer.text()}`);
  return (await answer.json()) as T;
}

async function fixtures(base: string): Promise<Record<string, string>> {
  const post = (path: string, body: object, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const username = `bench_${process.pid}`;
  const password = 'bench password 123';
  const { api_key } = await json<{ api_key: string }>(
    post('/auth/register', { username, password }),
    'register',
  );
  const { access_token } = await json<{ access_token: string }>(
    post('/auth/login', { username, password }),
    'login',
  );
  const nodeId = `bench-${process.pid}`;
  const { node_api_key } = await json<{ node_api_key: string }>(
    post(
      '/nodes',
      {
        node_id: nodeId,
        region: 'bench',
        node_type: 'compute',
        capabilities: { bandwidth_mbps: 1000, cpu_cores: 8, memory_gb: 16, gpu_available: false },
      },
      { 'x-api-key': api_key },
    ),
    'node registration',
  );
  return { api_key, access_token, node_id: nodeId, node_key: node_api_key };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-'));
  const config = loadConfig({ LOG_LEVEL: 'info', ...process.env, DATA_DIR: dataDir });
  const module = process.env.BENCH_MODULE as BenchModuleName | undefined;
  const app = await boot(config, {
    // As production writes to stdout (src/logging/line-batcher.ts), with /dev/null for stdout.
    logDestination: new LineBatcher(pino.destination({ dest: '/dev/null', sync: true })),
    extraModules: module ? [BENCH_MODULES[module]] : [],
  });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const stop = () =>
    void app.close().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  announce({ url, fixtures: await fixtures(`${url}/api/v1`) });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
