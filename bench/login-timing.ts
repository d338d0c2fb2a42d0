/**
 * Login timing and event-loop health at the production bcrypt cost (BCRYPT_COST, default 12):
 *  1. median login time for an unknown user vs a known user with a wrong password (the ratio should be
 *     1 ± 0.2: equal timing means no account enumeration by timing);
 *  2. event-loop lag p99 while 50 logins run at once (bcrypt runs on libuv's pool, not the loop; target < 20 ms).
 * Runs on DATABASE_URL when set, else on the embedded database in a temporary directory (PGlite executes
 * queries on the main thread, so its lag is higher). Prints numbers; asserts nothing.
 *
 *   npm run bench:login            (ROUNDS=20 to change the sample size)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../src/app.factory';
import { loadConfig } from '../src/config/load-config';
import { LIFTED_RATE_LIMITS } from './support/bench-env';

const ROUNDS = Number(process.env.ROUNDS ?? 20);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-login-'));
  const config = loadConfig({
    ...process.env,
    EMBEDDED_NODE: 'off',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'error',
    // The bench's ~40 failed and 50 concurrent logins all come from one client: the auth tier (and its count of
    // failed authentications) would answer 429 long before bcrypt is timed.
    ...LIFTED_RATE_LIMITS,
  });
  const app = await createApp(config, { logDestination: { write: () => undefined } });
  await app.init();
  try {
    await measure(app, config.database.url ? 'PostgreSQL' : 'embedded PGlite', config.auth.bcryptCost);
  } finally {
    // Closed on a failure too: the app's pools and timers would keep the process alive after the error.
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function measure(app: NestFastifyApplication, database: string, bcryptCost: number): Promise<void> {
  const post = (url: string, payload: object) =>
    app.inject({ method: 'POST', url: `/api/v1${url}`, payload });
  await post('/auth/register', { username: 'bench_user', password: 'correct horse battery' });

  const time = async (payload: object) => {
    const started = performance.now();
    const res = await post('/auth/login', payload);
    if (res.statusCode !== 401) throw new Error(`expected 401, got ${res.statusCode}`);
    return performance.now() - started;
  };
  const known: number[] = [];
  const unknown: number[] = [];
  await time({ username: 'nobody_here', password: 'wrong password' }); // warm the dummy hash
  for (let i = 0; i < ROUNDS; i++) {
    // Interleaved so drift in machine load hits both samples alike.
    known.push(await time({ username: 'bench_user', password: 'wrong password' }));
    unknown.push(await time({ username: `nobody_${i}`, password: 'wrong password' }));
  }
  const ratio = median(unknown) / median(known);
  console.log(`bcrypt cost ${bcryptCost}, ${ROUNDS} rounds each, on ${database}`);
  console.log(`login, known user, wrong password: median ${median(known).toFixed(1)} ms`);
  console.log(`login, unknown user             : median ${median(unknown).toFixed(1)} ms`);
  console.log(
    `ratio unknown/known: ${ratio.toFixed(2)} (target 0.80–1.20) ${Math.abs(ratio - 1) <= 0.2 ? 'OK' : 'MISS'}`,
  );

  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: 50 }, () =>
      post('/auth/login', { username: 'bench_user', password: 'correct horse battery' }),
    ),
  );
  lag.disable();
  const refused = answers.filter((res) => res.statusCode !== 200);
  if (refused.length > 0) throw new Error(`${refused.length} of 50 logins answered ${refused[0].statusCode}`);
  const p99 = lag.percentile(99) / 1e6;
  console.log(`50 concurrent logins: ${(performance.now() - started).toFixed(0)} ms total`);
  console.log(
    `event-loop lag p99 during them: ${p99.toFixed(1)} ms (target < 20) ${p99 < 20 ? 'OK' : 'MISS'}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
