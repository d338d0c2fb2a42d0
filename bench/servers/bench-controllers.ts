import { ConflictException, Controller, Get, Module, Post } from '@nestjs/common';
import { IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { AuthConfig } from '../../src/auth/auth.config';
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

/**
 * bench:login — the server's own event-loop lag around a burst of logins: measured here, in the server, while
 * the bench sends the logins from its own process (bench/login-timing.ts); and the bcrypt cost it runs with.
 */
@Controller('bench/login')
class LoginBenchController {
  private histogram: IntervalHistogram | null = null;

  constructor(private readonly auth: AuthConfig) {}

  @Public()
  @NoRateLimit()
  @Get('settings')
  settings() {
    return { bcrypt_cost: this.auth.bcryptCost };
  }

  @Public()
  @NoRateLimit()
  @Post('lag/start')
  start() {
    this.histogram?.disable();
    this.histogram = monitorEventLoopDelay({ resolution: 1 });
    this.histogram.enable();
    return { ok: true };
  }

  @Public()
  @NoRateLimit()
  @Post('lag/stop')
  stop() {
    const histogram = this.histogram;
    if (!histogram) throw new ConflictException('not started');
    histogram.disable();
    this.histogram = null;
    return { p99_ms: histogram.percentile(99) / 1e6 };
  }
}

@Module({ controllers: [ApiKeyBenchController] })
class ApiKeyBenchModule {}

@Module({ controllers: [RateLimitBenchController] })
class RateLimitBenchModule {}

@Module({ controllers: [LoginBenchController] })
class LoginBenchModule {}

export const BENCH_MODULES = {
  'api-key': ApiKeyBenchModule,
  'rate-limit': RateLimitBenchModule,
  login: LoginBenchModule,
} as const;
export type BenchModuleName = keyof typeof BENCH_MODULES;
