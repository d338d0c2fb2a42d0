import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiConflictResponse,
  ApiConsumes,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiPayloadTooLargeResponse,
  ApiProduces,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { NodeAgent } from '../common/auth/node-agent.decorator';
import { userLane } from '../common/concurrency/fair-queue';
import { CurrentPrincipal, CurrentRequestMeta } from '../common/auth/request-context.decorator';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { PageQueryDto } from '../common/pagination/page.dto';
import { ParseSha256Pipe } from '../common/validation/parse-id.pipe';
import { Scope } from '../common/auth/scopes';
import { BodyLimit } from '../common/http/body-limit';
import { AcceptsWasmBody, RawJsonBody } from '../common/http/body-parsers';
import { RateLimitTier } from '../common/auth/rate-tier.decorator';
import {
  ModuleDeletedDto,
  ModuleDto,
  ModuleIdParams,
  ModuleUsageDto,
  OwnedModulePageDto,
  toModuleDto,
  UploadModuleJsonDto,
} from './dto/module.dto';
import { ModuleOwnershipService } from './module-ownership.service';
import { RunModuleRequestDto, RunResultDto } from './dto/run.dto';
import { ModuleStoreService } from './module-store.service';
import { moduleBytesOf, moduleUploadBodyLimit } from './module-upload';
import { RunRequestPipe } from './run-request';
import type { RunRequest } from './run-request';
import { WasmConfig } from './wasm.config';
import { WasmService } from './wasm.service';

const INTEGRITY =
  'The stored file no longer hashes to the id: refused, not served (`conflict`); upload it again';

/**
 * The module store and synchronous runs over HTTP. Modules are content-addressed and shared: anyone with the
 * scope can read or run a module whose hash they know. Bodies are not DTO classes, so the global
 * ValidationPipe leaves them alone: an upload may be raw bytes, and a run body is read by RunRequestPipe, whose
 * deep-JSON check must see `inputs` as parsed.
 */
@ApiTags('modules')
@Controller('modules')
export class ModulesController {
  constructor(
    private readonly config: WasmConfig,
    private readonly store: ModuleStoreService,
    private readonly ownership: ModuleOwnershipService,
    private readonly wasm: WasmService,
  ) {}

  @Post()
  @Authenticated({ scopes: [Scope.TasksWrite] })
  @RateLimitTier('task')
  @BodyLimit(moduleUploadBodyLimit)
  @AcceptsWasmBody()
  @ApiConsumes('application/wasm', 'application/json')
  @ApiExtraModels(UploadModuleJsonDto)
  @ApiBody({
    description: 'The module: raw bytes as `application/wasm`, or JSON `{"wasm_module": base64}`',
    schema: {
      oneOf: [{ type: 'string', format: 'binary' }, { $ref: getSchemaPath(UploadModuleJsonDto) }],
    },
  })
  @ApiCreatedResponse({ type: ModuleDto, description: 'Stored' })
  @ApiOkResponse({ type: ModuleDto, description: 'These bytes were stored before: the same module' })
  @ApiUnprocessableEntityResponse({
    description:
      'Bad base64, not WebAssembly, not a WASI command, or an import outside `wasi_snapshot_preview1` / ' +
      '`wasix_*` (named in the message) (`validation_error`)',
  })
  @ApiPayloadTooLargeResponse({
    description:
      'Module over WASM_MAX_MODULE_BYTES (`payload_too_large`), or past your module storage quota ' +
      '(`payload_too_large` with `reason: "storage_quota_exceeded"` and `quota`: used and maximum bytes and modules)',
  })
  async upload(
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ModuleDto> {
    const bytes = moduleBytesOf(body, this.config.maxModuleBytes);
    const { record, created } = await this.ownership.upload(bytes, principal, meta, 'upload');
    if (!created) void reply.status(HttpStatus.OK);
    return toModuleDto(record);
  }

  @Get()
  @Authenticated({ scopes: [Scope.TasksRead] })
  @ApiOkResponse({ type: OwnedModulePageDto, description: 'Your modules, newest first' })
  @ApiUnprocessableEntityResponse({ description: 'Bad `limit` or `cursor` (`validation_error`)' })
  list(@Query() query: PageQueryDto, @CurrentPrincipal() principal: Principal): Promise<OwnedModulePageDto> {
    return this.ownership.list(principal.userId, query);
  }

  @Get('usage')
  @Authenticated({ scopes: [Scope.TasksRead] })
  @ApiOkResponse({
    type: ModuleUsageDto,
    description:
      'What your module storage quota is charged: every distinct module you own or one of your live tasks ' +
      'runs, at its full size (shared modules are charged to each holder)',
  })
  async usage(@CurrentPrincipal() principal: Principal): Promise<ModuleUsageDto> {
    const used = await this.ownership.usage(principal.userId);
    return {
      used_bytes: used.bytes,
      used_modules: used.modules,
      max_bytes: this.config.moduleQuotaBytes,
      max_modules: this.config.moduleQuotaCount,
    };
  }

  @Delete(':module_id')
  @Authenticated({ scopes: [Scope.TasksWrite] })
  @RateLimitTier('task')
  @ApiOkResponse({
    type: ModuleDeletedDto,
    description:
      'Removed from your modules (an admin: from everyone’s). The bytes are deleted unless another user ' +
      'still owns the module or a live task runs it; either way it no longer counts toward your quota ' +
      'unless one of your own live tasks runs it',
  })
  @ApiNotFoundResponse({ description: 'Not one of your modules, or no such module (`not_found`)' })
  async delete(
    @Param('module_id', new ParseSha256Pipe('Module not found')) moduleId: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<ModuleDeletedDto> {
    await this.ownership.remove(principal, moduleId, meta);
    return { message: 'Module deleted', module_id: moduleId };
  }

  @Get(':module_id')
  @Authenticated({ scopes: [Scope.TasksRead] })
  @ApiOkResponse({ type: ModuleDto, description: 'The stored module’s size, imports and exports' })
  @ApiUnprocessableEntityResponse({ description: 'Not a module id (`validation_error`)' })
  @ApiNotFoundResponse({ description: 'No such module (`not_found`)' })
  async get(@Param() { module_id }: ModuleIdParams): Promise<ModuleDto> {
    return toModuleDto(await this.store.metadata(module_id));
  }

  @Get(':module_id/download')
  @Authenticated({ scopes: [Scope.NodesRead] })
  // Nodes download the modules of the runs they lease (spec.module_url): modules are content-addressed and
  // shared, so any node key may read any module, as any user with nodes:read may.
  @NodeAgent({ users: true })
  @ApiProduces('application/wasm')
  @ApiOkResponse({
    schema: { type: 'string', format: 'binary' },
    description: 'The module bytes, verified against the id as they are read',
  })
  @ApiUnprocessableEntityResponse({ description: 'Not a module id (`validation_error`)' })
  @ApiNotFoundResponse({ description: 'No such module (`not_found`)' })
  @ApiConflictResponse({ description: INTEGRITY })
  async download(
    @Param() { module_id }: ModuleIdParams,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer> {
    const bytes = await this.store.read(module_id);
    void reply
      .type('application/wasm')
      .header('content-disposition', `attachment; filename="${module_id}.wasm"`);
    return bytes;
  }

  @Post(':module_id/run')
  @HttpCode(HttpStatus.OK)
  @Authenticated({ scopes: [Scope.TasksWrite] })
  @RateLimitTier('task')
  @RawJsonBody()
  @ApiBody({ type: RunModuleRequestDto })
  @ApiOkResponse({
    type: RunResultDto,
    description: 'The run happened; `outcome` says how it ended (`ok`, `timeout`, `trap`, …)',
  })
  @ApiUnprocessableEntityResponse({
    description: 'A field out of bounds, named with the rule and path (`validation_error`)',
  })
  @ApiNotFoundResponse({ description: 'No such module (`not_found`)' })
  @ApiConflictResponse({ description: INTEGRITY })
  @ApiServiceUnavailableResponse({
    description:
      'Too many of your runs waiting, the engine full, or the run stopped because the server is shutting down ' +
      '(`service_unavailable`, then with `reason: "shutting_down"`; with `Retry-After`)',
  })
  run(
    @Param() { module_id }: ModuleIdParams,
    @Body(RunRequestPipe) request: RunRequest,
    @CurrentPrincipal() principal: Principal,
  ): Promise<RunResultDto> {
    return this.wasm.run(module_id, request, userLane(principal.userId));
  }
}
