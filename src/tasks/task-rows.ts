import type { TaskStatus, TaskType } from '../common/tasks/task-kinds';
import type { VerificationMode } from './dto/create-task.dto';

/** A task's row as the repositories read it, and the record the services use. */
export interface TaskRecord {
  taskId: string;
  creatorId: string;
  taskType: TaskType;
  status: TaskStatus;
  statusReason: string | null;
  result: unknown;
  /** A list item's result was over LIST_RESULT_MAX_BYTES and left out. */
  resultOmitted?: true;
  proofId: string | null;
  minNodes: number;
  quorum: number;
  maxRuns: number;
  runTarget: number;
  verificationMode: VerificationMode;
  canonicalRunId: string | null;
  maxExecutionTimeSec: number;
  requireGpu: boolean;
  requireProof: boolean;
  minCpuCores: number | null;
  minMemoryGb: number | null;
  moduleId: string | null;
  circuitId: string | null;
  priority: number;
  attempts: number;
  maxAttempts: number;
  assignedNodes: string[];
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

/** A task as its own view reads it: with the inputs it was stored (and hashed) with, which lists leave out. */
export interface TaskDetail extends TaskRecord {
  /** Exactly the JSON value `inputs_hash` is the JCS SHA-256 of (JSON `null` is a value of its own). */
  inputs: unknown;
}

export interface TaskRow {
  task_id: string;
  creator_id: string;
  task_type: TaskType;
  status: TaskStatus;
  status_reason: string | null;
  inputs?: unknown;
  result: unknown;
  proof_id: string | null;
  min_nodes: number;
  quorum: number;
  max_runs: number;
  run_target: number;
  verification_mode: VerificationMode;
  canonical_run_id: string | null;
  max_execution_time_sec: string | number;
  require_gpu: boolean;
  require_proof: boolean;
  min_cpu_cores: number | null;
  min_memory_gb: number | null;
  module_id: string | null;
  circuit_id: string | null;
  priority: number;
  attempts: number;
  max_attempts: number;
  assigned_nodes: string[] | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

/** Every stored column TaskRow reads, once: the SELECT list below is built from it. */
const TASK_COLUMNS = [
  'task_id',
  'creator_id',
  'task_type',
  'status',
  'status_reason',
  'result',
  'proof_id',
  'min_nodes',
  'quorum',
  'max_runs',
  'run_target',
  'verification_mode',
  'canonical_run_id',
  'max_execution_time_sec',
  'require_gpu',
  'require_proof',
  'min_cpu_cores',
  'min_memory_gb',
  'module_id',
  'circuit_id',
  'priority',
  'attempts',
  'max_attempts',
  'created_at',
  'updated_at',
  'completed_at',
] as const satisfies readonly (keyof TaskRow)[];

// Compile-time check that the list covers TaskRow (all but the computed assigned_nodes, and inputs: read by
// findLive alone, since a page of tasks would carry every task's inputs — up to the body limit each — unshown).
type UnreadColumn = Exclude<keyof TaskRow, (typeof TASK_COLUMNS)[number] | 'assigned_nodes' | 'inputs'>;
const everyColumnRead: [UnreadColumn] extends [never] ? true : never = true;
void everyColumnRead;

// Nodes holding a lease or having delivered an accepted result, in lease order (the original's field).
export const COLUMNS = `${TASK_COLUMNS.map((column) => `t.${column}`).join(', ')},
  (SELECT array_agg(r.node_id ORDER BY r.fence) FROM task_runs r
     WHERE r.task_id = t.task_id AND r.status IN ('leased', 'succeeded')) AS assigned_nodes`;

/**
 * A list item carries its result up to this many bytes of JSON; a larger one is left out (`result_omitted`),
 * else a page of 100 tasks could carry 100 outputs of WASM_MAX_OUTPUT_BYTES. The task's own view has it.
 */
export const LIST_RESULT_MAX_BYTES = 64 * 1024;
export const LIST_COLUMNS = COLUMNS.replace(
  't.result,',
  'CASE WHEN NOT o.result_omitted THEN t.result END AS result, o.result_omitted,',
);

export function toRecord(row: TaskRow): TaskRecord {
  return {
    taskId: row.task_id,
    creatorId: row.creator_id,
    taskType: row.task_type,
    status: row.status,
    statusReason: row.status_reason,
    result: row.result,
    proofId: row.proof_id,
    minNodes: row.min_nodes,
    quorum: row.quorum,
    maxRuns: row.max_runs,
    runTarget: row.run_target,
    verificationMode: row.verification_mode,
    canonicalRunId: row.canonical_run_id,
    maxExecutionTimeSec: Number(row.max_execution_time_sec),
    requireGpu: row.require_gpu,
    requireProof: row.require_proof,
    minCpuCores: row.min_cpu_cores,
    minMemoryGb: row.min_memory_gb,
    moduleId: row.module_id,
    circuitId: row.circuit_id,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    assignedNodes: row.assigned_nodes ?? [],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
  };
}
