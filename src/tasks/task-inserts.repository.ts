import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { NewAuditRecord } from '../audit/audit-log.repository';
import { DatabaseSession } from '../database/transaction-runner';
import { COLUMNS, TaskRecord, TaskRow, toRecord } from './task-rows';
import { TasksConfig } from './tasks.config';
import type { NewTask } from './tasks.repository';

export interface TaskInsert {
  task: NewTask;
  audit: NewAuditRecord;
}

/** Column lists shared by the one-task and the many-task statement (same columns, same order). */
const TASK_INSERT_COLUMNS = `creator_id, task_type, inputs, inputs_hash, min_nodes, max_execution_time_sec,
  require_gpu, require_proof, min_cpu_cores, min_memory_gb, module_id, circuit_id, args, deterministic, priority,
  max_attempts, queue_timeout_sec, queue_expires_at, status_reason, quorum, max_runs, run_target,
  verification_mode, fair_at`;
const AUDIT_INSERT_COLUMNS = `user_id, action, resource_type, resource_id, ip_address, user_agent, request_id, status,
  error_message, metadata`;

/**
 * The statements' parameters, in their order ($1… for one task; after the ids, one array each for many): one
 * list, so the two statements cannot drift apart.
 */
const INSERT_FIELDS: readonly ((item: TaskInsert) => unknown)[] = [
  ({ task }) => task.creatorId,
  ({ task }) => task.taskType,
  ({ task }) => JSON.stringify(task.inputs),
  ({ task }) => task.inputsHash,
  ({ task }) => task.minNodes,
  ({ task }) => task.maxExecutionTimeSec,
  ({ task }) => task.requireGpu,
  ({ task }) => task.requireProof,
  ({ task }) => task.minCpuCores,
  ({ task }) => task.minMemoryGb,
  ({ task }) => task.moduleId,
  ({ task }) => task.circuitId,
  ({ task }) => JSON.stringify(task.args),
  ({ task }) => task.deterministic,
  ({ task }) => task.priority,
  ({ task }) => task.maxAttempts,
  ({ task }) => task.queueTimeoutSec,
  ({ task }) => task.quorum,
  ({ task }) => task.maxRuns,
  ({ task }) => task.verificationMode,
  ({ audit }) => audit.userId,
  ({ audit }) => audit.action,
  ({ audit }) => audit.resourceType,
  ({ audit }) => audit.ipAddress,
  ({ audit }) => audit.userAgent,
  ({ audit }) => audit.requestId,
  ({ audit }) => audit.status,
  ({ audit }) => audit.errorMessage,
  ({ audit }) => (audit.metadata === null ? null : JSON.stringify(audit.metadata)),
];

const FOREIGN_KEY_VIOLATION = '23503';
/** PostgreSQL's name for `tasks.module_id REFERENCES wasm_modules` (migration SchedulingEngine). */
const MODULE_FOREIGN_KEY = 'tasks_module_id_fkey';

/**
 * Whether an insert failed because the task's module is gone: deleted after the submission checked it and
 * before the row was written (the foreign key refused the row, so nothing was written).
 */
export function isModuleGone(error: unknown): boolean {
  const driverError = (error as { driverError?: { code?: unknown; constraint?: unknown } } | null)
    ?.driverError;
  return driverError?.code === FOREIGN_KEY_VIOLATION && driverError.constraint === MODULE_FOREIGN_KEY;
}

/**
 * A task's place in the claim order within its priority (`fair_at`, TASK_FAIR_SHARE_STEP_MS): one step per run
 * after its creator's latest open task, and no earlier than now. Fairness: a user's flood is spread out one step
 * a task, while a newcomer's task takes its place at now, ahead of the flood's later tasks. `creator`, `stepMs`
 * and `runs` (the runs the task needs) are SQL expressions.
 */
function fairPlace(creator: string, stepMs: string, runs: string): string {
  const open = (alias: string) =>
    `${alias}.creator_id = ${creator} AND ${alias}.status IN ('pending', 'running') AND ${alias}.deleted_at IS NULL`;
  // A user's open tasks have their places in the order they were created (each place is at least the newest
  // open one's), so the latest place is among the newest open tasks: those of one statement, on
  // idx_tasks_creator_open (creator_id, created_at). Not max(fair_at) over every open task, nor ORDER BY fair_at:
  // on a database never analyzed (the embedded one, its first minutes) the planner may sort all of the user's
  // tasks for those, where both of the creator's indexes give this lookup in order.
  return `GREATEST(now(), (SELECT max(o.fair_at) FROM tasks o
                            WHERE ${open('o')}
                              AND o.created_at = (SELECT n.created_at FROM tasks n WHERE ${open('n')}
                                                   ORDER BY n.created_at DESC LIMIT 1)))
          + ${stepMs}::int * ${runs} * interval '1 millisecond'`;
}

/** Submissions: a task, its `created` event (the tasks trigger) and its audit row, written together. */
@Injectable()
export class TaskInsertsRepository {
  constructor(
    private readonly db: DatabaseSession,
    private readonly config: TasksConfig,
  ) {}

  /**
   * The task, its `created` event (the tasks trigger) and its audit row (resource_id: the new task's id) in one
   * statement: atomic without a transaction, so a submission costs one round trip to the database.
   */
  async insert(task: NewTask, audit: NewAuditRecord): Promise<TaskRecord> {
    const [row] = await this.db.queryPrepared<TaskRow>(
      'vcp_insert_task',
      `WITH t AS (
         INSERT INTO tasks (${TASK_INSERT_COLUMNS})
         VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15, $16, $17,
                 now() + $17::int * interval '1 second', 'waiting for a node', $18, $19, $5, $20,
                 ${fairPlace('$1::uuid', '$30', '$5::int')})
         RETURNING *),
       audited AS (
         INSERT INTO audit_log (${AUDIT_INSERT_COLUMNS})
         SELECT $21::uuid, $22::varchar, $23::varchar, t.task_id::text, $24::inet, $25::text, $26::varchar,
                $27::varchar, $28::text, $29::jsonb FROM t)
       SELECT ${COLUMNS} FROM t`,
      [...INSERT_FIELDS.map((field) => field({ task, audit })), this.config.fairShareStepMs],
    );
    return toRecord(row);
  }

  /**
   * Several submissions in one statement (TaskInsertBatcher): the same rows as `insert` writes for each, in
   * one round trip and one commit. Task ids are chosen here so that each caller gets its own row back; the rows
   * come from arrays, one per column, so one prepared statement serves every batch size. All or nothing: a row
   * the database refuses fails the statement (the batcher then writes each on its own).
   */
  async insertMany(items: readonly TaskInsert[]): Promise<TaskRecord[]> {
    const ids = items.map(() => randomUUID());
    const rows = await this.db.queryPrepared<TaskRow>(
      'vcp_insert_tasks',
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::varchar[], $4::jsonb[], $5::varchar[], $6::int[],
                              $7::bigint[], $8::bool[], $9::bool[], $10::int[], $11::float8[], $12::varchar[],
                              $13::varchar[], $14::jsonb[], $15::bool[], $16::smallint[], $17::int[], $18::int[],
                              $19::int[], $20::int[], $21::varchar[],
                              $22::uuid[], $23::varchar[], $24::varchar[], $25::inet[], $26::text[], $27::varchar[],
                              $28::varchar[], $29::text[], $30::jsonb[]) WITH ORDINALITY
             AS i(task_id, creator_id, task_type, inputs, inputs_hash, min_nodes, max_execution_time_sec,
                  require_gpu, require_proof, min_cpu_cores, min_memory_gb, module_id, circuit_id, args,
                  deterministic, priority, max_attempts, queue_timeout_sec, quorum, max_runs, verification_mode,
                  a_user_id, a_action, a_resource_type, a_ip_address, a_user_agent, a_request_id, a_status,
                  a_error_message, a_metadata, ord)),
       t AS (
         INSERT INTO tasks (task_id, ${TASK_INSERT_COLUMNS})
         SELECT task_id, creator_id, task_type, inputs, inputs_hash, min_nodes, max_execution_time_sec,
                require_gpu, require_proof, min_cpu_cores, min_memory_gb, module_id, circuit_id, args, deterministic,
                priority, max_attempts, queue_timeout_sec, now() + queue_timeout_sec * interval '1 second',
                'waiting for a node', quorum, max_runs, min_nodes, verification_mode,
                -- A creator's tasks in one batch follow each other, one step per run apart.
                ${fairPlace('input.creator_id', '$31', 'sum(min_nodes) OVER (PARTITION BY creator_id ORDER BY ord)')}
           FROM input
         RETURNING *),
       audited AS (
         INSERT INTO audit_log (${AUDIT_INSERT_COLUMNS})
         SELECT a_user_id, a_action, a_resource_type, task_id::text, a_ip_address, a_user_agent, a_request_id,
                a_status, a_error_message, a_metadata
           FROM input)
       SELECT ${COLUMNS} FROM t`,
      [ids, ...INSERT_FIELDS.map((field) => items.map(field)), this.config.fairShareStepMs],
    );
    const byId = new Map(rows.map((row) => [row.task_id, toRecord(row)]));
    return ids.map((id) => {
      const record = byId.get(id);
      if (!record) throw new Error(`batched insert returned no row for task ${id}`);
      return record;
    });
  }
}
