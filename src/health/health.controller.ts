import { Controller, Get } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/auth/public.decorator';
import { NoRateLimit } from '../common/auth/rate-tier.decorator';
import { IgnoresQuery } from '../common/http/unknown-input.guard';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { CheckResultDto, HealthResponseDto, ReadinessResponseDto } from './health.dto';
import { HealthService } from './health.service';

@ApiTags('health')
// Referenced from ReadinessResponseDto.checks by name only: registered here so the reference resolves.
@ApiExtraModels(CheckResultDto)
@Public()
@NoRateLimit()
@IgnoresQuery()
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get()
  @ApiOkResponse({ type: HealthResponseDto, description: 'The process is up' })
  liveness(): HealthResponseDto {
    return this.health.liveness();
  }

  @Get('ready')
  @ApiOkResponse({ type: ReadinessResponseDto, description: 'Every dependency answers' })
  @ApiServiceUnavailableResponse({
    description: 'A dependency does not answer; `checks` says which. Retry-After says when to ask again',
  })
  async readiness(): Promise<ReadinessResponseDto> {
    const { ready, checks } = await this.health.readiness();
    if (!ready) {
      const failed = Object.keys(checks).filter((name) => checks[name].status === 'down');
      const error = new AppException(
        ErrorCode.ServiceUnavailable,
        `Not ready: ${failed.join(', ')} check failed`,
        {
          extra: { checks },
        },
      );
      // As every other 503 of a dependency down: a client told to wait for readiness knows when to ask again.
      error.headers['Retry-After'] = '1';
      throw error;
    }
    const degraded = Object.values(checks).some((check) => check.status === 'degraded');
    return { status: degraded ? 'degraded' : 'ready', checks };
  }
}
