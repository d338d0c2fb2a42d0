import { Controller, Get, Module } from '@nestjs/common';
import { Public } from '../../src/common/auth/public.decorator';
import { Authenticated } from '../../src/common/auth/authenticated.decorator';
import { RateLimitTier } from '../../src/common/auth/rate-tier.decorator';

function probeController(path: string) {
  // Two classes with the same name and the same method name, mounted at different paths.
  @Controller(path)
  class RateProbeController {
    @Public()
    @RateLimitTier('general')
    @Get('hit')
    hit() {
      return { ok: true };
    }

    @Authenticated()
    @RateLimitTier('general')
    @Get('mine')
    mine() {
      return { ok: true };
    }
  }
  return RateProbeController;
}

/** Test-only routes on the general tier: public (counted per client IP) and authenticated (per key or user). */
@Module({ controllers: [probeController('rate-probe-a'), probeController('rate-probe-b')] })
export class RateLimitProbeModule {}
