import type { TaskInfoDto, TaskRunDto, VerificationMethod } from './dto/task-responses.dto';
import type { TaskRunRecord } from './task-runs.repository';
import type { TaskDetail, TaskRecord } from './tasks.repository';

/** TaskInfo as the original shaped it, plus our fields; never the entity (it holds hashes). */
export function toTaskInfo(task: TaskRecord): TaskInfoDto {
  const requirements: TaskInfoDto['requirements'] = {
    min_nodes: task.minNodes,
    max_execution_time_sec: task.maxExecutionTimeSec,
    require_gpu: task.requireGpu,
    require_proof: task.requireProof,
  };
  if (task.minCpuCores !== null) requirements.min_cpu_cores = task.minCpuCores;
  if (task.minMemoryGb !== null) requirements.min_memory_gb = task.minMemoryGb;
  if (task.minNodes > 1) {
    requirements.quorum = task.quorum;
    requirements.max_runs = task.maxRuns;
    requirements.verification = task.verificationMode;
  }
  const method = verificationMethod(task);
  const info: TaskInfoDto = {
    task_id: task.taskId,
    creator_id: task.creatorId,
    task_type: task.taskType,
    status: task.status,
    assigned_nodes: task.assignedNodes,
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
    result: task.result ?? null,
    proof_id: task.proofId,
    requirements,
    module_id: task.moduleId,
    circuit_id: task.circuitId,
    status_reason: task.statusReason,
    attempts: task.attempts,
    max_attempts: task.maxAttempts,
    priority: task.priority,
    completed_at: task.completedAt?.toISOString() ?? null,
    verification:
      task.minNodes > 1
        ? { method, mode: task.verificationMode, quorum: task.quorum, canonical_run_id: task.canonicalRunId }
        : { method },
  };
  if (task.resultOmitted) info.result_omitted = true;
  return info;
}

/**
 * A task's own view (GET /tasks/:task_id, and the cancel answer): TaskInfo with the inputs as stored — the JSON
 * its `inputs_hash` is the JCS SHA-256 of — and its runs. Lists and the submission's answer leave both out.
 */
export function toTaskDetail(task: TaskDetail, runs: TaskRunRecord[]): TaskInfoDto {
  const open = task.status === 'pending' || task.status === 'running';
  return { ...toTaskInfo(task), inputs: task.inputs, runs: runs.map((run) => toRunView(run, open)) };
}

function toRunView(run: TaskRunRecord, taskOpen: boolean): TaskRunDto {
  // What a run printed is shown like its hash: once the task is decided, or at once for a failed run, whose
  // output counts for nothing (its creator needs it to learn why) — never a counted output while others run.
  const printed = !taskOpen || run.status === 'failed';
  return {
    run_id: run.runId,
    node_id: run.nodeId,
    status: run.status,
    attempt: run.attempt,
    outcome: run.outcome,
    output_hash: taskOpen ? null : run.outputHash,
    verdict: run.verdict,
    execution_time_ms: run.executionTimeMs,
    started_at: run.startedAt?.toISOString() ?? null,
    finished_at: run.finishedAt?.toISOString() ?? null,
    exit_code: printed ? run.exitCode : null,
    stdout_tail: printed ? run.stdoutTail : null,
    stderr_tail: printed ? run.stderrTail : null,
  };
}

/** How the task's output is (or will be) verified. */
export function verificationMethod(task: TaskRecord): VerificationMethod {
  if (task.taskType === 'zk_proof') return 'proof';
  if (task.minNodes === 1) return 'none';
  return task.runTarget === 1 ? 'trusted_node' : 'quorum';
}
