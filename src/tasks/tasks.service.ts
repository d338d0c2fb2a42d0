import type { AuditAction } from '../audit/audit-actions';
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { RunLeaseSettings } from '../common/runs/run-lease';
import { ErrorCode } from '../common/errors/error-code';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor';
import { isUuid, UUID_PATTERN } from '../common/validation/uuid';
import { TransactionRunner } from '../database/transaction-runner';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { ModuleOwnershipService } from '../wasm/module-ownership.service';
import type { ListTasksQueryDto } from './dto/task-queries.dto';
import type { TaskDeletedDto, TaskInfoDto, TaskPageDto } from './dto/task-responses.dto';
import { TaskEventSignal } from './task-event-signal';
import { TaskQueueRepository } from './task-queue.repository';
import { toTaskDetail, toTaskInfo } from './task-view';
import { WAIT_REASONS, WaitFacts, waitReason } from './wait-reason';
import { TaskRunsRepository } from './task-runs.repository';
import { TaskDetail, TaskRecord, TasksRepository } from './tasks.repository';

const DEFAULT_PAGE = 50;

/** Reads, cancel and delete of tasks; only the creator (or an admin) may see or touch a task. */
@Injectable()
export class TasksService {
  constructor(
    private readonly tasks: TasksRepository,
    private readonly taskRuns: TaskRunsRepository,
    private readonly queue: TaskQueueRepository,
    private readonly audit: AuditService,
    private readonly tx: TransactionRunner,
    private readonly events: TaskEventSignal,
    private readonly metrics: VcpMetrics,
    private readonly ownership: ModuleOwnershipService,
    private readonly lease: RunLeaseSettings,
  ) {}

  async list(principal: Principal, query: ListTasksQueryDto): Promise<TaskPageDto> {
    if (query.all && principal.role !== 'admin') {
      throw new AppException(ErrorCode.Forbidden, 'Only admins can list every user’s tasks');
    }
    const limit = query.limit ?? DEFAULT_PAGE;
    const rows = await this.tasks.list(
      {
        creatorId: query.all ? null : principal.userId,
        status: query.status,
        taskType: query.task_type,
        circuitId: query.circuit_id,
      },
      decodeCursor(query.cursor, UUID_PATTERN),
      limit + 1,
    );
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map((task) => toTaskInfo(task)),
      next_cursor:
        rows.length > limit && last
          ? encodeCursor({ t: last.createdAt.toISOString(), id: last.taskId })
          : null,
    };
  }

  /**
   * A waiting task's `status_reason` says why it waits, computed from the nodes online now: a pending task, or
   * a running one with no run leased (a quorum task seeking its next run).
   */
  async get(principal: Principal, taskId: string): Promise<TaskInfoDto> {
    let task = await this.visible(principal, taskId);
    // Only a quorum task runs with no run leased (seeking its next one): another running task is working.
    if (task.status === 'pending' || (task.status === 'running' && task.minNodes > 1)) {
      const facts = await this.queue.waitFacts(task.taskId, this.lease.leaseSecs);
      if (facts && task.status === 'pending') task = { ...task, statusReason: waitReason(facts) };
      else if (facts && facts.leased === 0) task = { ...task, statusReason: runningReason(task, facts) };
    }
    return toTaskDetail(task, await this.taskRuns.runsOf(task.taskId));
  }

  /** Pending runs are withdrawn; leased runs are told to stop at their node's next heartbeat. */
  async cancel(principal: Principal, taskId: string, meta: RequestMeta): Promise<TaskInfoDto> {
    let cancelled = false;
    const task = await this.tx.run(async () => {
      cancelled = false; // run again after a deadlock: only the committed attempt's cancel counts
      const task = await this.visible(principal, taskId);
      if (task.status === 'cancelled') return task;
      if (!(await this.tasks.cancel(task.taskId, 'cancelled_by_user'))) {
        // The status read above can be stale: a completion (or a cancel) committed while this one waited for
        // the row. Answer with the status that refused it, and a concurrent cancel's outcome as our own.
        const now = await this.tasks.findLive(task.taskId);
        if (!now) throw AppException.notFound('Task not found');
        if (now.status === 'cancelled') return now;
        throw new AppException(ErrorCode.Conflict, `The task is already ${now.status}`);
      }
      cancelled = true;
      await this.recordAudit('task.cancelled', principal, task, meta);
      return (await this.tasks.findLive(task.taskId))!;
    });
    this.events.publish(task.taskId);
    if (cancelled) this.metrics.taskFinished(task.taskType, 'cancelled');
    return toTaskDetail(task, await this.taskRuns.runsOf(task.taskId));
  }

  /** Cancels first if needed, then removes the task from lists; runs and artifacts stay for audit. */
  async delete(principal: Principal, taskId: string, meta: RequestMeta): Promise<TaskDeletedDto> {
    const deleted = await this.tx.run(async () => {
      const task = await this.visible(principal, taskId);
      const cancelled = await this.tasks.cancel(task.taskId, 'deleted');
      // The read above takes no lock: a concurrent delete may have committed since; it alone audits the delete.
      if (!(await this.tasks.softDelete(task.taskId))) throw AppException.notFound('Task not found');
      await this.recordAudit('task.deleted', principal, task, meta);
      return { task, cancelled };
    });
    this.events.publish(deleted.task.taskId);
    if (deleted.cancelled) this.metrics.taskFinished(deleted.task.taskType, 'cancelled');
    // The task no longer keeps its module: stored bytes nobody else holds go now.
    if (deleted.task.moduleId !== null) await this.ownership.collect(deleted.task.moduleId);
    return { message: 'Task deleted successfully', task_id: deleted.task.taskId };
  }

  /** The task if the caller created it or is an admin; otherwise the same 404 as a task that does not exist. */
  async visible(principal: Principal, taskId: string): Promise<TaskDetail> {
    const task = isUuid(taskId) ? await this.tasks.findLive(taskId.toLowerCase()) : null;
    if (!task || (task.creatorId !== principal.userId && principal.role !== 'admin')) {
      throw AppException.notFound('Task not found');
    }
    return task;
  }

  private recordAudit(action: AuditAction, principal: Principal, task: TaskRecord, meta: RequestMeta) {
    return this.audit.record(
      {
        action,
        status: 'success',
        userId: principal.userId,
        resourceType: 'task',
        resourceId: task.taskId,
        // An admin may cancel or delete anyone's task: the row names whose it was, as node rows do.
        metadata: { previous_status: task.status, owner_id: task.creatorId },
      },
      meta,
    );
  }
}

/**
 * A running task with no run leased seeks its next run: the reason stored with its last change ("no quorum
 * yet: …") stays, with what keeps the next run from starting, if anything does.
 */
function runningReason(task: { statusReason: string | null }, facts: WaitFacts): string | null {
  const live = waitReason(facts);
  if (task.statusReason === null) return live;
  return live === WAIT_REASONS.waiting ? task.statusReason : `${task.statusReason}; ${live}`;
}
