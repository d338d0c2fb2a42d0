import type { RunReceipt } from '../common/receipts/receipt';
import type { RunResultRequestDto, RunResultResponseDto } from './dto/result.dto';
import type { RunOutcome } from './runs.repository';

/**
 * The UPDATE that records a run's result, only under its lease (same fence, still leased, and `leaseHolds`, the
 * SQL of leaseHoldsSql for `task_runs`): for the result statements of RunsRepository and QuorumResultsRepository.
 * `andAlso` adds conditions; `response` is the answer stored for repeats and `verdict` the run's verdict, as SQL
 * (by default the parameters).
 */
export function recordRun({
  leaseHolds,
  andAlso = '',
  response = '$13::jsonb',
  verdict = '$16',
}: {
  leaseHolds: string;
  andAlso?: string;
  response?: string;
  verdict?: string;
}): string {
  return `UPDATE task_runs SET status = $3, outcome = $4, output = $5::jsonb, output_hash = $6, stdout = $7,
                 stderr = $8, exit_code = $9, execution_time_ms = $10, gas_used = $11, result_request_hash = $12,
                 result_response = ${response}, receipt = $14::jsonb, signature = $15, verdict = ${verdict},
                 node_public_key = $17, completed_at = now(), lease_expires_at = NULL
           WHERE run_id = $1 AND fence = $2 AND status = 'leased' AND ${leaseHolds} ${andAlso}
          RETURNING run_id, node_id`;
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

/** What a result records beside the node's body: as checked and answered by RunResultService. */
export interface RecordedResult {
  outcome: string;
  outputHash: string;
  requestHash: string;
  response: RunResultResponseDto;
  receipt: RunReceipt;
  nodePublicKey: string;
}

/** What a result writes into its run row (its verdict apart). */
export function runOutcomeOf(dto: RunResultRequestDto, result: RecordedResult): Omit<RunOutcome, 'verdict'> {
  return {
    status: result.response.run_status as 'succeeded' | 'failed' | 'rejected',
    outcome: result.outcome,
    output: dto.output ?? null,
    outputHash: result.outputHash,
    stdout: dto.stdout ?? null,
    stderr: dto.stderr ?? null,
    exitCode: dto.exit_code ?? null,
    executionTimeMs: dto.execution_time_ms,
    gasUsed: dto.gas_used ?? null,
    requestHash: result.requestHash,
    response: result.response,
    receipt: result.receipt,
    signature: dto.signature,
    nodePublicKey: result.nodePublicKey,
  };
}
