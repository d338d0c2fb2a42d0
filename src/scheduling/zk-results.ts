import { Injectable } from '@nestjs/common';
import { jsonSha256Hex } from '../common/crypto/json-hash';
import { AppException } from '../common/errors/app.exception';
import { proofHash } from '../common/receipts/receipt';
import { isUuid } from '../common/validation/uuid';
import { ProofCheck, ProofVerificationService } from '../proofs/proof-verification.service';
import { ProofsConfig } from '../proofs/proofs.config';
import { requeued, TasksRepository } from '../tasks/tasks.repository';
import type { RunResultRequestDto } from './dto/result.dto';
import { receiptOf, SubmissionReceipts } from './result-receipt';
import { ResultCaller, RunRelease } from './run-release';
import { RunForResult, RunsRepository } from './runs.repository';
import { SchedulingConfig } from './scheduling.config';

/** A zk_proof result's proof, checked before the result's transaction. */
export interface ZkVerdict {
  check: ProofCheck;
  /** The proof verifies and proves the statement the task asked for. */
  accepted: boolean;
  /** The proof verifies, but proves other public signals than the task's inputs.public_signals. */
  otherStatement: boolean;
  errorMessage: string | null;
  submittedBy: string | null;
}

export interface ZkRejection {
  taskStatus: string;
  reason: string | null;
  requeued: boolean;
}

/**
 * A lease's hold beyond the verification's own bounds (a wait and a run, each PROOF_VERIFY_TIMEOUT_MS): reading
 * the circuit, the result's transaction.
 */
const HOLD_MARGIN_MS = 10_000;

const ZK_OUTPUT_RULE =
  'an ok result of a zk_proof task has output {proof, public_signals}: the proof and public_signals it carries';

const OTHER_STATEMENT =
  'The proof does not prove the task’s statement: its public signals differ from inputs.public_signals';

/**
 * zk_proof results (issue 16): an `ok` result carries `proof` and `public_signals`, verified with the
 * ProofModule against the task's circuit, and accepted only if the signals are exactly the task's
 * `inputs.public_signals` (a valid proof of another statement proves nothing the creator asked). The proof
 * artifact is stored with the task and run; a rejected proof rejects the run, and the task goes back to the
 * queue (another node) until its attempts run out: then `failed: proof_invalid`.
 */
@Injectable()
export class ZkResults {
  constructor(
    private readonly runs: RunsRepository,
    private readonly tasks: TasksRepository,
    private readonly proofs: ProofVerificationService,
    private readonly config: SchedulingConfig,
    private readonly proofsConfig: ProofsConfig,
    private readonly release: RunRelease,
  ) {}

  /**
   * Before a proof is verified (a result this node did not sign never costs a verifier thread): true when the run is this node's live lease and the receipt does not verify
   * against its key (audited). Anything else (no such run, a lost lease, no key, a wrong output hash) is left
   * to the result's transaction, which answers it with the run locked.
   */
  async signedByAnotherKey(
    nodeId: string,
    runId: string,
    dto: RunResultRequestDto,
    receipts: SubmissionReceipts,
    caller: ResultCaller | undefined,
  ): Promise<boolean> {
    const run = isUuid(runId) ? await this.runs.readForResult(runId.toLowerCase()) : null;
    if (!run || run.nodeId !== nodeId || run.status !== 'leased' || run.fence !== dto.fence) return false;
    // The field's rule first: a receipt signed with the proof's hash, as for a zk run, is not a forgery.
    if (run.taskType !== 'zk_proof')
      throw AppException.invalidField('proof', 'only zk_proof tasks take a proof');
    if (run.nodePublicKey === null) return false;
    const outputHash = jsonSha256Hex(dto.output ?? null);
    if (outputHash !== dto.output_hash) return false;
    if (receipts.verify(receiptOf(run, dto, outputHash), dto.signature, run.nodePublicKey)) return false;
    (await this.release.refuseSignature(run, dto.fence, caller))();
    return true;
  }

  /**
   * Before the result's transaction: verification runs on the verifier pool's threads, never while holding the
   * run's and task's locks. null: nothing to verify here (not a zk_proof ok result, or not this node's live
   * lease, which the result's transaction answers itself).
   */
  async verify(nodeId: string, runId: string, dto: RunResultRequestDto): Promise<ZkVerdict | null> {
    // Most results carry no proof and cost no read here; a zk_proof `ok` without one is refused in the
    // result's transaction (requireProof), which has the task's type anyway.
    if (dto.proof === undefined) return null;
    const context = isUuid(runId) ? await this.runs.proofContext(runId.toLowerCase()) : null;
    if (!context || context.nodeId !== nodeId || !context.leased) return null;
    if (context.taskType !== 'zk_proof' || context.circuitId === null) {
      if (dto.proof !== undefined)
        throw AppException.invalidField('proof', 'only zk_proof tasks take a proof');
      return null;
    }
    if (dto.outcome !== 'ok') return null;
    if (dto.public_signals === undefined) {
      throw AppException.invalidField('public_signals', 'an ok result of a zk_proof task carries them');
    }
    // The task's result is the run's output: only the proof verified below may become it, not a node's claim.
    if (jsonSha256Hex(dto.output ?? null) !== proofHash(dto.proof, dto.public_signals)) {
      throw AppException.invalidField('output', ZK_OUTPUT_RULE);
    }
    // Judged at arrival: a lease live now is held while the proof waits for, and runs on, a verifier thread
    // (the result's transaction then finds it live); one that ran out meanwhile would refuse a result in time.
    await this.runs.holdForVerification(
      runId.toLowerCase(),
      nodeId,
      dto.fence,
      2 * this.proofsConfig.verifyTimeoutMs + HOLD_MARGIN_MS,
    );
    // The node owner's fair-queue lane: one owner's nodes cannot crowd out other verifications.
    const submittedBy = context.nodeOwnerId;
    const check = await this.proofs.check(
      context.circuitId,
      dto.proof,
      dto.public_signals,
      submittedBy ?? `node:${nodeId}`,
    );
    if (!check.valid) {
      return { check, accepted: false, otherStatement: false, errorMessage: check.errorMessage, submittedBy };
    }
    const asked = (context.inputs as { public_signals?: unknown } | null)?.public_signals;
    const same =
      Array.isArray(asked) &&
      asked.length === check.publicSignals.length &&
      asked.every((signal, i) => signal === check.publicSignals[i]);
    return same
      ? { check, accepted: true, otherStatement: false, errorMessage: null, submittedBy }
      : { check, accepted: false, otherStatement: true, errorMessage: OTHER_STATEMENT, submittedBy };
  }

  /**
   * Inside the result's transaction, before anything is written: an ok zk_proof result carries a proof, and
   * a result of any other task carries no public signals.
   */
  requireProof(run: RunForResult, dto: RunResultRequestDto): void {
    if (run.taskType === 'zk_proof' && dto.outcome === 'ok' && dto.proof === undefined) {
      throw AppException.invalidField('proof', 'an ok result of a zk_proof task carries its proof');
    }
    // As a stray `proof` is (verify): signals no receipt binds must not be accepted as if they meant something.
    if (run.taskType !== 'zk_proof' && (dto.public_signals ?? null) !== null) {
      throw AppException.invalidField('public_signals', 'only zk_proof tasks take public signals');
    }
  }

  /** Inside the result's transaction: a rejected proof gives the run's slot back (or fails the task). */
  async reject(run: RunForResult): Promise<ZkRejection> {
    const released = await this.tasks.releaseSlot(run, this.config.retryBaseMs, 'proof_invalid');
    if (released === 'failed') return { taskStatus: 'failed', reason: 'proof_invalid', requeued: false };
    if (requeued(released)) return { taskStatus: released, reason: null, requeued: true };
    return { taskStatus: run.taskStatus, reason: null, requeued: false };
  }

  /** Inside the result's transaction: the artifact, with task and run; an accepted proof of a completed task is its proof_id. */
  async store(run: RunForResult, verdict: ZkVerdict, taskCompleted: boolean): Promise<string> {
    const proofId = await this.proofs.store(
      verdict.check,
      { taskId: run.taskId, runId: run.runId, submittedBy: verdict.submittedBy },
      { valid: verdict.accepted, errorMessage: verdict.errorMessage },
    );
    if (verdict.accepted && taskCompleted) await this.tasks.setProof(run.taskId, proofId);
    return proofId;
  }
}
