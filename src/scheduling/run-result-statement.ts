import type { RunOutcome } from './runs.repository';

/**
 * The UPDATE that records a run's result, only under its lease (same fence, still leased, not expired): for
 * RunsRepository's statements. `andAlso` adds conditions, `response` is the answer stored for repeats.
 */
export function recordRun(andAlso = '', response = '$13::jsonb'): string {
  return `UPDATE task_runs SET status = $3, outcome = $4, output = $5::jsonb, output_hash = $6, stdout = $7,
                 stderr = $8, exit_code = $9, execution_time_ms = $10, gas_used = $11, result_request_hash = $12,
                 result_response = ${response}, receipt = $14::jsonb, signature = $15, verdict = $16,
                 node_public_key = $17, completed_at = now(), lease_expires_at = NULL
           WHERE run_id = $1 AND fence = $2 AND status = 'leased' AND lease_expires_at > now() ${andAlso}
          RETURNING run_id`;
}

/** The parameters $1–$17 of recordRun. */
export const finishParameters = (runId: string, fence: string, result: RunOutcome): unknown[] => [
  runId,
  fence,
  result.status,
  result.outcome,
  JSON.stringify(result.output ?? null),
  result.outputHash,
  result.stdout,
  result.stderr,
  result.exitCode,
  result.executionTimeMs,
  result.gasUsed,
  result.requestHash,
  JSON.stringify(result.response),
  JSON.stringify(result.receipt),
  result.signature,
  result.verdict,
  result.nodePublicKey,
];
