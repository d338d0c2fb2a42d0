import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/auth/authenticated.decorator';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { RateLimitTier } from '../common/auth/rate-tier.decorator';
import { CurrentPrincipal, CurrentRequestMeta } from '../common/auth/request-context.decorator';
import { Scope } from '../common/auth/scopes';
import { BodyLimit } from '../common/http/body-limit';
import { moduleUploadBodyLimit } from '../wasm/module-upload';
import { CreateTaskDto } from './dto/create-task.dto';
import { ListTasksQueryDto } from './dto/task-queries.dto';
import { TaskDeletedDto, TaskInfoDto, TaskPageDto } from './dto/task-responses.dto';
import { TaskSubmissionService } from './task-submission.service';
import { TasksService } from './tasks.service';

const NOT_FOUND = 'No such task, or not yours (`not_found`)';

@ApiTags('tasks')
@Controller('tasks')
export class TasksController {
  constructor(
    private readonly submission: TaskSubmissionService,
    private readonly tasks: TasksService,
  ) {}

  @Post()
  @Authenticated({ scopes: [Scope.TasksWrite] })
  @RateLimitTier('task')
  @BodyLimit(moduleUploadBodyLimit)
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Same key and body within 24 h: same task',
  })
  @ApiCreatedResponse({ type: TaskInfoDto, description: 'Queued (`pending`)' })
  submit(
    @Body() dto: CreateTaskDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<TaskInfoDto> {
    return this.submission.submit(principal, dto, idempotencyKey, meta);
  }

  @Get()
  @Authenticated({ scopes: [Scope.TasksRead] })
  @RateLimitTier('task')
  @ApiOkResponse({ type: TaskPageDto, description: 'The caller’s tasks (admins: `?all=true`), newest first' })
  list(@Query() query: ListTasksQueryDto, @CurrentPrincipal() principal: Principal): Promise<TaskPageDto> {
    return this.tasks.list(principal, query);
  }

  @Get(':task_id')
  @Authenticated({ scopes: [Scope.TasksRead] })
  @RateLimitTier('task')
  @ApiOkResponse({ type: TaskInfoDto, description: 'With its runs' })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  get(@Param('task_id') taskId: string, @CurrentPrincipal() principal: Principal): Promise<TaskInfoDto> {
    return this.tasks.get(principal, taskId);
  }

  @Post(':task_id/cancel')
  @HttpCode(HttpStatus.OK)
  @Authenticated({ scopes: [Scope.TasksWrite] })
  @RateLimitTier('task')
  @ApiOkResponse({ type: TaskInfoDto, description: 'Leased runs stop at their node’s next heartbeat' })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  cancel(
    @Param('task_id') taskId: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<TaskInfoDto> {
    return this.tasks.cancel(principal, taskId, meta);
  }

  @Delete(':task_id')
  @Authenticated({ scopes: [Scope.TasksWrite] })
  @RateLimitTier('task')
  @ApiOkResponse({
    type: TaskDeletedDto,
    description: 'Cancelled if needed, then hidden; runs kept for audit',
  })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  delete(
    @Param('task_id') taskId: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<TaskDeletedDto> {
    return this.tasks.delete(principal, taskId, meta);
  }
}
