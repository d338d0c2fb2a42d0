import { Controller, Get, Module } from '@nestjs/common';
import { Authenticated } from '../../src/common/auth/authenticated.decorator';
import { Public } from '../../src/common/auth/public.decorator';
import { NoRateLimit, RateLimitTier } from '../../src/common/auth/rate-tier.decorator';
import { Scope } from '../../src/common/auth/scopes';

const answer = () => ({ ok: true, items: [1, 2, 3] });

/** bench:api-key — one handler, open (@Public) and behind X-API-Key. */
@Controller('bench')
class ApiKeyBenchController {
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

/** bench:rate-limit — one handler, exempt from the rate-limit guard and limited by it. */
@Controller('bench')
class RateLimitBenchController {
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

@Module({ controllers: [ApiKeyBenchController] })
class ApiKeyBenchModule {}

@Module({ controllers: [RateLimitBenchController] })
class RateLimitBenchModule {}

export const BENCH_MODULES = { 'api-key': ApiKeyBenchModule, 'rate-limit': RateLimitBenchModule } as const;
export type BenchModuleName = keyof typeof BENCH_MODULES;
