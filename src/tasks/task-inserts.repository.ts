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
  ({ task }) => task.creatorOpenTasks,
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
 * Open tasks a user's place may run ahead of what the live-task limit counted: one user's submissions in flight
 * at once (on this replica and others) are counted in any order, and must not pull each other's places back.
 */
export const FAIR_PLACE_SLACK_TASKS = 16;

/**
 * Fair order (TASK_FAIR_SHARE_STEP_MS): a submission moves its creator's row in task_queue_places one step per
 * task, from the later of now and the creator's last place, and each task's place (`fair_at`) is where that
 * leaves it. A flood is spread out one step a task while a newcomer's task goes in at now, ahead of the flood's
 * later tasks. The row's lock puts one user's concurrent submissions (on any replica) one after another: read
 * from the tasks themselves, they got the same place. The last place is held to (open + FAIR_PLACE_SLACK_TASKS)
 * steps ahead of now, `open` being the creator's open tasks as the live-task limit counted them: places handed
 * to tasks that have since ended are not held against the user, even while one old task stays open. SQL
 * expressions; milliseconds as bigint (a long step times a large count passes 2^31).
 */
function movedPlace(last: string, open: string, stepMs: string, tasks: string): string {
  const ms = (n: string) => `${stepMs}::bigint * ${n} * interval '1 millisecond'`;
  return `GREATEST(now(), LEAST(${last}, now() + ${ms(`(${open} + ${FAIR_PLACE_SLACK_TASKS})`)})) + ${ms(tasks)}`;
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
      `WITH place AS (
         INSERT INTO task_queue_places AS p (creator_id, last_place)
         VALUES ($1, ${movedPlace('now()', '0', '$31', '1')})
         ON CONFLICT (creator_id) DO UPDATE SET last_place = ${movedPlace('p.last_place', '$30::int', '$31', '1')}
         RETURNING last_place),
       t AS (
         INSERT INTO tasks (${TASK_INSERT_COLUMNS})
         VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15, $16, $17,
                 now() + $17::int * interval '1 second', 'waiting for a node', $18, $19, $5, $20,
                 (SELECT last_place FROM place))
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
                              $28::varchar[], $29::text[], $30::jsonb[], $31::int[]) WITH ORDINALITY
             AS i(task_id, creator_id, task_type, inputs, inputs_hash, min_nodes, max_execution_time_sec,
                  require_gpu, require_proof, min_cpu_cores, min_memory_gb, module_id, circuit_id, args,
                  deterministic, priority, max_attempts, queue_timeout_sec, quorum, max_runs, verification_mode,
                  a_user_id, a_action, a_resource_type, a_ip_address, a_user_agent, a_request_id, a_status,
                  a_error_message, a_metadata, open_tasks, ord)),
       costs AS (
         SELECT creator_id, count(*) AS tasks, max(open_tasks) AS open_tasks
           FROM input GROUP BY creator_id),
       places AS (
         -- In creator order: two batches locking the rows of the same creators in opposite orders would deadlock.
         INSERT INTO task_queue_places AS p (creator_id, last_place)
         SELECT creator_id, ${movedPlace('now()', '0', '$32', 'tasks')} FROM costs ORDER BY creator_id
         ON CONFLICT (creator_id) DO UPDATE
            SET last_place = ${movedPlace(
              'p.last_place',
              '(SELECT c.open_tasks FROM costs c WHERE c.creator_id = p.creator_id)',
              '$32',
              '(SELECT c.tasks FROM costs c WHERE c.creator_id = p.creator_id)',
            )}
         RETURNING creator_id, last_place),
       t AS (
         INSERT INTO tasks (task_id, ${TASK_INSERT_COLUMNS})
         SELECT task_id, creator_id, task_type, inputs, inputs_hash, min_nodes, max_execution_time_sec,
                require_gpu, require_proof, min_cpu_cores, min_memory_gb, module_id, circuit_id, args, deterministic,
                priority, max_attempts, queue_timeout_sec, now() + queue_timeout_sec * interval '1 second',
                'waiting for a node', quorum, max_runs, min_nodes, verification_mode,
                -- A creator's tasks in one batch follow each other, one step apart, up to the last place.
                places.last_place - $32::bigint * (costs.tasks - row_number() OVER (PARTITION BY input.creator_id
                                                                                      ORDER BY ord))
                                    * interval '1 millisecond'
           FROM input JOIN costs USING (creator_id) JOIN places USING (creator_id)
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
