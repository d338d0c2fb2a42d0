import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { CurrentPrincipal, CurrentRequestMeta } from '../common/auth/request-context.decorator';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { Scope } from '../common/auth/scopes';
import { ParseUuidPipe } from '../common/validation/parse-id.pipe';
import { CreateThrottleOverrideDto, ThrottleOverrideDto } from './dto/throttle-override.dto';
import { ThrottleOverridesService } from './throttle-overrides.service';

@ApiTags('admin')
@Controller('admin/throttle-overrides')
@Authenticated({ roles: ['admin'], scopes: [Scope.AdminThrottle] })
export class ThrottleOverridesController {
  constructor(private readonly overrides: ThrottleOverridesService) {}

  @Post()
  @ApiCreatedResponse({ type: ThrottleOverrideDto, description: 'Applies on every replica within 2 s' })
  @ApiConflictResponse({
    description: 'The subject has an override in force (`throttle_override_exists`; `override_id` names it)',
  })
  create(
    @Body() dto: CreateThrottleOverrideDto,
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<ThrottleOverrideDto> {
    return this.overrides.create(actor, dto, meta);
  }

  @Get()
  @ApiOkResponse({ type: [ThrottleOverrideDto], description: 'Overrides that have not expired' })
  list(
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<ThrottleOverrideDto[]> {
    return this.overrides.list(actor, meta);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiNotFoundResponse({ description: 'No such override (`not_found`)' })
  remove(
    @Param('id', new ParseUuidPipe('Override not found')) id: string,
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<void> {
    return this.overrides.remove(actor, id, meta);
  }
}
