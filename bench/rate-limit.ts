/**
 * Throttler overhead: requests/s on one route with the rate-limit guard against the same handler exempt from
 * it (@NoRateLimit), in memory and on Redis (REDIS_URL, default redis://127.0.0.1:6379), in the same run.
 * Limits are set high so nothing is refused: this measures the cost of counting. Prints ratios; asserts nothing.
 *
 *   npm run bench:rate-limit        (REQUESTS=4000 CONCURRENCY=32)
 */
import { Controller, Get, Module } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app.factory';
import { Public } from '../src/common/auth/public.decorator';
import { loadConfig } from '../src/config/load-config';
import { NoRateLimit, RateLimitTier } from '../src/common/auth/rate-tier.decorator';
import { discardLogs, measureRps } from './support/load';

const REQUESTS = Number(process.env.REQUESTS ?? 4000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);

@Controller('bench')
class BenchController {
  @Public()
  @NoRateLimit()
  @Get('free')
  free() {
    return { ok: true };
  }

  @Public()
  @RateLimitTier('general')
  @Get('limited')
  limited() {
    return { ok: true };
  }
}

@Module({ controllers: [BenchController] })
class BenchModule {}

async function measure(redisUrl: string | undefined): Promise<{ free: number; limited: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-rl-'));
  const config = loadConfig({
    ...process.env,
    EMBEDDED_NODE: 'off',
    DATA_DIR: dataDir,
    REDIS_URL: redisUrl ?? '',
    RATE_LIMIT_GENERAL_RPM: '1000000',
    RATE_LIMIT_GENERAL_BURST: '100000',
  });
  const app = await createApp(config, { logDestination: discardLogs, extraModules: [BenchModule] });
  await app.listen(0, '127.0.0.1');
  const base = `${await app.getUrl()}/api/v1/bench`;
  const options = { requests: REQUESTS, concurrency: CONCURRENCY };
  await measureRps(`${base}/free`, options);
  await measureRps(`${base}/limited`, options);
  const best = { free: 0, limited: 0 };
  for (let i = 0; i < 3; i++) {
    best.free = Math.max(best.free, await measureRps(`${base}/free`, options));
    best.limited = Math.max(best.limited, await measureRps(`${base}/limited`, options));
  }
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
  return best;
}

async function main(): Promise<void> {
  for (const [label, url] of [
    ['in memory', undefined],
    ['on Redis', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'],
  ] as const) {
    const { free, limited } = await measure(url);
    console.log(
      `${label.padEnd(9)}: exempt ${free.toFixed(0)} req/s, limited ${limited.toFixed(0)} req/s, ratio ${(limited / free).toFixed(2)}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
