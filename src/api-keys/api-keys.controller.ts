import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import {
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { CurrentPrincipal, CurrentRequestMeta } from '../common/auth/request-context.decorator';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { Scope } from '../common/auth/scopes';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { ParseUuidPipe } from '../common/validation/parse-id.pipe';
import { ApiKeysService } from './api-keys.service';
import {
  ApiKeyDto,
  ApiKeyValidationDto,
  CreatedApiKeyDto,
  CreateApiKeyDto,
  RotateApiKeyDto,
  toApiKeyValidationDto,
} from './dto/api-key.dto';

@ApiTags('api-keys')
@Controller('api-keys')
@Authenticated({ scopes: [Scope.KeysManage] })
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @ApiCreatedResponse({ type: CreatedApiKeyDto, description: 'The key is in `api_key`, shown only here' })
  @ApiConflictResponse({ description: 'Already 50 live keys (`conflict`)' })
  create(
    @Body() dto: CreateApiKeyDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<CreatedApiKeyDto> {
    return this.keys.create(principal, dto, meta);
  }

  @Get()
  @ApiOkResponse({
    type: [ApiKeyDto],
    description:
      'The caller’s keys, never with secrets, at most 200: first every live key (not revoked, not expired; a ' +
      'key in its grace period is live), newest first, always all of them; then the most recent revoked or ' +
      'expired keys, newest first, filling the rest. Node keys are listed under their node',
  })
  list(@CurrentPrincipal() principal: Principal): Promise<ApiKeyDto[]> {
    return this.keys.list(principal);
  }

  @Get(':key_id')
  @ApiOkResponse({ type: ApiKeyDto, description: 'The key’s metadata (never the key itself)' })
  @ApiNotFoundResponse({ description: 'No such key of yours (`not_found`)' })
  get(
    @Param('key_id', new ParseUuidPipe('API key not found')) keyId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ApiKeyDto> {
    return this.keys.get(principal, keyId);
  }

  @Delete(':key_id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Revoked (every replica stops accepting it within 5 s)' })
  @ApiNotFoundResponse({ description: 'No such key of yours (`not_found`)' })
  revoke(
    @Param('key_id', new ParseUuidPipe('API key not found')) keyId: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<void> {
    return this.keys.revoke(principal, keyId, meta);
  }

  @Post(':key_id/rotate')
  @ApiCreatedResponse({
    type: CreatedApiKeyDto,
    description: 'The new key; the old one works until the grace ends',
  })
  @ApiNotFoundResponse({ description: 'No such key of yours (`not_found`)' })
  @ApiForbiddenResponse({ description: 'The key has a scope the caller lacks (`forbidden`)' })
  @ApiConflictResponse({
    description:
      'The key is revoked or expired, already rotated (in its grace period), or a grace period would pass the ' +
      'live-key cap (`conflict`)',
  })
  @ApiBody({ type: RotateApiKeyDto, required: false })
  rotate(
    @Param('key_id', new ParseUuidPipe('API key not found')) keyId: string,
    @Body() dto: RotateApiKeyDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<CreatedApiKeyDto> {
    return this.keys.rotate(principal, keyId, dto.grace_seconds ?? 0, meta);
  }
}

@ApiTags('api-keys')
@Controller('auth/api-key')
export class ApiKeyValidationController {
  @Get('validate')
  @Authenticated({}, { apiKeyOnly: true })
  @ApiOkResponse({
    type: ApiKeyValidationDto,
    description: 'Who the X-API-Key belongs to (original-compatible)',
  })
  validate(@CurrentPrincipal() principal: Principal): ApiKeyValidationDto {
    if (principal.authMethod !== 'api_key' || !principal.keyId) {
      throw new AppException(ErrorCode.Unauthorized, 'Send the key to validate in the X-API-Key header');
    }
    return toApiKeyValidationDto(principal, principal.keyId);
  }
}
