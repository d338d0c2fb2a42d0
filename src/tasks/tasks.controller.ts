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
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiPayloadTooLargeResponse,
  ApiProduces,
  ApiTags,
  ApiServiceUnavailableResponse,
  ApiTooManyRequestsResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authenticated } from '../common/auth/authenticated.decorator';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { RateLimitTier } from '../common/auth/rate-tier.decorator';
import { CurrentPrincipal, CurrentRequestMeta } from '../common/auth/request-context.decorator';
import { Scope } from '../common/auth/scopes';
import { BodyLimit } from '../common/http/body-limit';
import { RawJsonBody } from '../common/http/body-parsers';
import { LongLived } from '../common/http/long-lived';
import { IDEMPOTENCY_KEY_SCHEMA } from '../common/validation/idempotency-key';
import { taskBodyLimit } from '../wasm/module-upload';
import { CreateTaskDto } from './dto/create-task.dto';
import { CreateTaskPipe } from './create-task.pipe';
import type { CreateTaskRequest } from './create-task.pipe';
import { TASK_EXAMPLES } from './dto/task-examples';
import { ListTasksQueryDto } from './dto/task-queries.dto';
import { TaskDeletedDto, TaskInfoDto, TaskPageDto } from './dto/task-responses.dto';
import { TaskEventStreams } from './task-event-streams';
import { TaskSubmissionService } from './task-submission.service';
import { TasksService } from './tasks.service';

const NOT_FOUND = 'No such task, or not yours (`not_found`)';

@ApiTags('tasks')
@Controller('tasks')
export class TasksController {
  constructor(
    private readonly submission: TaskSubmissionService,
    private readonly tasks: TasksService,
    private readonly eventStreams: TaskEventStreams,
  ) {}

  @Post()
  @Authenticated({ scopes: [Scope.TasksWrite] })
  @RateLimitTier('task')
  @BodyLimit(taskBodyLimit)
  // Forbidden keys reach CreateTaskPipe as own properties, to be refused by name instead of deleted unseen.
  @RawJsonBody()
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    schema: IDEMPOTENCY_KEY_SCHEMA,
    description:
      '1–255 printable ASCII characters, no spaces (else 422 naming the header). The same key and body (as ' +
      'JSON: key order, whitespace and optional fields sent as null do not count) from the same user within ' +
      '24 h answer 201 with the first task as it is now, also while the first request is still being ' +
      'handled: resend a submission whose answer was lost (network error, 5xx, 503 `shutting_down`) with its ' +
      'key, and it is stored once. Another body is 422 `idempotency_key_reused`',
  })
  @ApiBody({ type: CreateTaskDto, examples: TASK_EXAMPLES })
  @ApiCreatedResponse({
    type: TaskInfoDto,
    description: 'Queued (`pending`); with a repeated Idempotency-Key and body, the first task',
  })
  @ApiConflictResponse({
    description:
      'The Idempotency-Key’s task was deleted (`idempotency_key_task_deleted`), or a `zk_proof` task names a ' +
      'retired circuit (`circuit_retired`)',
  })
  @ApiPayloadTooLargeResponse({
    description:
      'Body over its limit (BODY_LIMIT_BYTES plus room for an inline module), `inputs` over BODY_LIMIT_BYTES ' +
      'as JSON, or a `wasm_module` (or a `module_id` new to your usage) past your module storage ' +
      'quota (`reason: storage_quota_exceeded`, with `quota`)',
  })
  @ApiTooManyRequestsResponse({
    description:
      "Over the `task` tier's limit (`rate_limited`), or you have TASK_MAX_LIVE_PER_USER pending or running " +
      'tasks already (`reason: live_task_limit`, with `limit`: `live_tasks` and `max_live_tasks`): ' +
      '`Retry-After` says when to retry',
  })
  @ApiUnprocessableEntityResponse({
    description:
      'The body failed validation (`validation_error`; `details` names each field: a per-type check, ' +
      '`inputs` against the program’s schema, a `forbidden_key`); `federated_learning` ' +
      '(`reason: task_type_not_supported`); a malformed Idempotency-Key, or one used before with another ' +
      'body (`reason: idempotency_key_reused`)',
  })
  submit(
    @Body(CreateTaskPipe) dto: CreateTaskRequest,
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

  @Get(':task_id/events')
  @Authenticated({ scopes: [Scope.TasksRead] })
  @RateLimitTier('task')
  @LongLived('stream')
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id' })
  @ApiOkResponse({
    schema: { type: 'string' },
    description:
      'Server-Sent Events with increasing ids: `status` (`{task_id, status, status_reason, attempts, at}`, ' +
      'the reason recorded with that change) and `run` (`{task_id, run_id, node_id, status, attempt, ' +
      'outcome, at}`); a `: heartbeat` comment every TASK_EVENTS_HEARTBEAT_MS (15 s by default). Ends after ' +
      "the terminal status event (`completed`, `failed` or `cancelled`; a quorum task's run still leased at " +
      'its decision may end later, as a `run` event after it); events carry no result: read the ' +
      'task (GET /tasks/:task_id) then. A stream cut short resumes with Last-Event-ID',
  })
  @ApiNoContentResponse({
    description:
      'A reconnect whose Last-Event-ID is the last event of a finished task: nothing will follow (an ' +
      'EventSource stops reconnecting)',
  })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  @ApiUnprocessableEntityResponse({
    description: 'Last-Event-ID is not an event of this stream (`validation_error`)',
  })
  @ApiTooManyRequestsResponse({
    description:
      'Over the `task` tier’s limit, or TASK_EVENTS_MAX_STREAMS_PER_USER of the caller’s streams are open on ' +
      'this replica (`Retry-After: 2`; the X-RateLimit-* headers still describe the tier); both `rate_limited`, ' +
      '`Retry-After` says when to retry',
  })
  @ApiServiceUnavailableResponse({
    description:
      'TASK_EVENTS_MAX_STREAMS streams are open on this server (`service_unavailable`, with `Retry-After`)',
  })
  async events(
    @Param('task_id') taskId: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const stream = await this.eventStreams.open(principal, request.headers, taskId, lastEventId);
    if (stream === null) {
      await reply.code(HttpStatus.NO_CONTENT).send();
      return;
    }
    // A client that goes away ends its stream (and frees its slot) at once.
    reply.raw.on('close', () => stream.destroy());
    this.eventStreams.sending(stream, reply.raw);
    // Sent as a stream through Fastify, so the security headers, request id and metrics hooks all apply.
    await reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-accel-buffering', 'no')
      .send(stream);
  }

  @Post(':task_id/cancel')
  @HttpCode(HttpStatus.OK)
  @Authenticated({ scopes: [Scope.TasksWrite] })
  @RateLimitTier('task')
  @ApiOkResponse({ type: TaskInfoDto, description: 'Leased runs stop at their node’s next heartbeat' })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  @ApiConflictResponse({ description: 'The task already completed or failed (`conflict`)' })
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
