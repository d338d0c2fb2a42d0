import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';

export interface TaskRunRecord {
  runId: string;
  nodeId: string;
  status: string;
  attempt: number;
  outcome: string | null;
  outputHash: string | null;
  verdict: string | null;
  executionTimeMs: number | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  exitCode: number | null;
  /** The last TAIL_CHARS characters of what the run printed. */
  stdoutTail: string | null;
  stderrTail: string | null;
}

/** How much of a run's stdout and stderr the task view carries: the end, where a failure says why. */
export const TAIL_CHARS = 4096;

/** The runs of one task as its creator reads them (GET /tasks/:task_id). */
@Injectable()
export class TaskRunsRepository {
  constructor(private readonly db: DatabaseSession) {}

  async runsOf(taskId: string): Promise<TaskRunRecord[]> {
    const rows = await this.db.query<{
      run_id: string;
      node_id: string;
      status: string;
      attempt: number;
      outcome: string | null;
      output_hash: string | null;
      verdict: string | null;
      execution_time_ms: string | null;
      started_at: Date | null;
      completed_at: Date | null;
      exit_code: number | null;
      stdout_tail: string | null;
      stderr_tail: string | null;
    }>(
      `SELECT run_id, node_id, status, attempt, outcome, output_hash, verdict, execution_time_ms, started_at,
              completed_at, exit_code, right(stdout, $2) AS stdout_tail, right(stderr, $2) AS stderr_tail
         FROM task_runs WHERE task_id = $1 ORDER BY fence`,
      [taskId, TAIL_CHARS],
    );
    return rows.map((row) => ({
      runId: row.run_id,
      nodeId: row.node_id,
      status: row.status,
      attempt: row.attempt,
      outcome: row.outcome,
      outputHash: row.output_hash,
      verdict: row.verdict,
      executionTimeMs: row.execution_time_ms === null ? null : Number(row.execution_time_ms),
      startedAt: row.started_at,
      finishedAt: row.completed_at,
      exitCode: row.exit_code,
      stdoutTail: row.stdout_tail,
      stderrTail: row.stderr_tail,
    }));
  }
}
