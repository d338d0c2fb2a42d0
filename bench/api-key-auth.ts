/**
 * Cost of API-key authentication: requests/s of one route behind X-API-Key against the same handler with the
 * guard skipped (@Public), in the same run. Target: keyed ≥ 90 % of open (the check is checksum + HMAC + an
 * in-memory cache; no bcrypt, no per-request query). Prints numbers; asserts nothing.
 *
 *   npm run bench:api-key          (REQUESTS=4000 CONCURRENCY=32)
 */
import { Controller, Get, Module } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app.factory';
import { Authenticated } from '../src/common/auth/authenticated.decorator';
import { Public } from '../src/common/auth/public.decorator';
import { Scope } from '../src/common/auth/scopes';
import { loadConfig } from '../src/config/load-config';
import { discardLogs, measureRps } from './support/load';

const REQUESTS = Number(process.env.REQUESTS ?? 4000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const answer = () => ({ ok: true, items: [1, 2, 3] });

@Controller('bench')
class BenchController {
  @Public()
  @Get('open')
  open() {
    return answer();
  }

  @Authenticated({ scopes: [Scope.TasksRead] })
  @Get('keyed')
  keyed() {
    return answer();
  }
}

@Module({ controllers: [BenchController] })
class BenchModule {}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-keys-'));
  const config = loadConfig({
    ...process.env,
    EMBEDDED_NODE: 'off',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    BCRYPT_COST: '4',
  });
  const app = await createApp(config, { logDestination: discardLogs, extraModules: [BenchModule] });
  await app.listen(0, '127.0.0.1');
  const base = `${await app.getUrl()}/api/v1`;
  const registered = await fetch(`${base}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench_keys', password: 'correct horse battery' }),
  });
  const { api_key } = (await registered.json()) as { api_key: string };

  const options = { requests: REQUESTS, concurrency: CONCURRENCY };
  const keyed = { ...options, headers: { 'x-api-key': api_key } };
  await measureRps(`${base}/bench/open`, options); // warm-up both
  await measureRps(`${base}/bench/keyed`, keyed);
  const rounds: { open: number; keyed: number }[] = [];
  for (let i = 0; i < 3; i++) {
    // Alternated, so drift in machine load falls on both alike.
    rounds.push({
      open: await measureRps(`${base}/bench/open`, options),
      keyed: await measureRps(`${base}/bench/keyed`, keyed),
    });
  }
  const best = (pick: (r: { open: number; keyed: number }) => number) => Math.max(...rounds.map(pick));
  const ratio = best((r) => r.keyed) / best((r) => r.open);
  console.log(`guard skipped (@Public): ${best((r) => r.open).toFixed(0)} req/s`);
  console.log(`X-API-Key authenticated: ${best((r) => r.keyed).toFixed(0)} req/s`);
  console.log(`ratio keyed/open: ${ratio.toFixed(2)} (target ≥ 0.90) ${ratio >= 0.9 ? 'OK' : 'MISS'}`);

  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
