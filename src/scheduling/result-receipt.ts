import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { resultReceipt, RunReceipt, verifyReceipt } from '../common/receipts/receipt';
import type { RunResultRequestDto } from './dto/result.dto';
import type { RunForResult } from './runs.repository';

/** A result whose signature does not verify against its node's registered key. */
export const signatureInvalid = () =>
  new AppException(
    ErrorCode.ValidationError,
    'The signature is not this node’s signature of the run receipt',
    {
      reason: ErrorReason.SignatureInvalid,
      extra: { details: [{ field: 'signature', message: 'does not verify against the node’s public key' }] },
    },
  );

/**
 * The service's own 422s of a body that reads but does not hold together (an output_hash not of its output, a
 * stray or missing proof); not a refused signature, which ends its lease itself.
 */
export const isBodyRefusal = (error: unknown): boolean =>
  error instanceof AppException &&
  error.code === ErrorCode.ValidationError &&
  error.publicReason !== ErrorReason.SignatureInvalid;

/**
 * The receipt the node must have signed, rebuilt from what the server knows (task, run, inputs hash, module
 * or circuit) and what the node reports (output hash, outcome, time). `proof_hash` binds a zk run's proof.
 */
export function receiptOf(
  run: Pick<RunForResult, 'taskId' | 'runId' | 'inputsHash' | 'moduleHash' | 'circuitId'>,
  dto: RunResultRequestDto,
  outputHash: string,
): RunReceipt {
  return resultReceipt({
    task_id: run.taskId,
    run_id: run.runId,
    fence: dto.fence,
    inputs_hash: run.inputsHash,
    module_hash: run.moduleHash,
    circuit_id: run.circuitId,
    proof: dto.proof,
    public_signals: dto.public_signals,
    output_hash: outputHash,
    outcome: dto.outcome,
    execution_time_ms: dto.execution_time_ms,
  });
}

/**
 * One submission's receipt checks. Its one-statement path and its locked path may check the same receipt with
 * the same key, and an Ed25519 verify (~60 µs) need not run twice. Only a receipt that verified is remembered,
 * and only the same key, signature and receipt fields (JSON of all three, so no two triples read alike) pass
 * without a verify.
 */
export class SubmissionReceipts {
  private verified: string | undefined;

  verify(receipt: RunReceipt, signature: string, publicKeyBase64: string): boolean {
    const checked = JSON.stringify([publicKeyBase64, signature, receipt]);
    if (checked === this.verified) return true;
    if (!verifyReceipt(receipt, signature, publicKeyBase64)) return false;
    this.verified = checked;
    return true;
  }
}
