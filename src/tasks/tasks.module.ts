import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ClockModule } from '../common/clock/clock.module';
import { ProgramsModule } from '../programs/programs.module';
import { ProofsModule } from '../proofs/proofs.module';
import { WakeUpsModule } from '../wake-ups/wake-ups.module';
import { WasmModule } from '../wasm/wasm.module';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';
import { LiveTaskLimit } from './live-task-limit';
import { TaskEventSignal } from './task-event-signal';
import { TaskEventStreams } from './task-event-streams';
import { TaskEventsRepository } from './task-events.repository';
import { TaskInsertBatcher } from './task-insert-batcher';
import { TaskInsertsRepository } from './task-inserts.repository';
import { TaskQueueRepository } from './task-queue.repository';
import { TaskSubmissionService } from './task-submission.service';
import { TasksController } from './tasks.controller';
import { TasksRepository } from './tasks.repository';
import { TasksService } from './tasks.service';
import { TaskRunsRepository } from './task-runs.repository';
import { WorkSignal } from './work-signal';

/**
 * Tasks (issue 16): submission, reads, cancel, delete. The scheduling module leases them to nodes; it hears
 * about new work through WorkSignal.
 */
@Module({
  imports: [AuditModule, ClockModule, ProgramsModule, ProofsModule, WasmModule, WakeUpsModule],
  controllers: [TasksController],
  providers: [
    TasksRepository,
    TaskInsertsRepository,
    TaskInsertBatcher,
    IdempotencyKeysRepository,
    TaskSubmissionService,
    LiveTaskLimit,
    TasksService,
    TaskRunsRepository,
    WorkSignal,
    TaskEventsRepository,
    TaskQueueRepository,
    TaskEventSignal,
    TaskEventStreams,
  ],
  exports: [TasksRepository, TasksService, TaskQueueRepository, WorkSignal, TaskEventSignal],
})
export class TasksModule {}
