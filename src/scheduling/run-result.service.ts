import { Injectable, Logger } from '@nestjs/common';
import { jsonSha256Hex } from '../common/crypto/json-hash';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { isRetryableConflict } from '../common/errors/transient-database-error';
import { isUuid } from '../common/validation/uuid';
import type { RunReceipt } from '../common/receipts/receipt';
import type { RunOutcome } from '../common/runs/run-outcomes';
import { TransactionRunner } from '../database/transaction-runner';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { requeued, TasksRepository } from '../tasks/tasks.repository';
import { TaskEventSignal } from '../tasks/task-event-signal';
import { WorkSignal } from '../tasks/work-signal';
import { RunResultRequestDto, RunResultResponseDto, TASK_FAULT_OUTCOMES } from './dto/result.dto';
import { LeasedRunFacts, LeasedRuns } from './leased-runs';
import { RunForResult, RunsRepository } from './runs.repository';
import { QuorumResultsRepository } from './quorum-results.repository';
import { RecordedResult, runOutcomeOf } from './run-result-statement';
import { ReputationRepository } from './reputation.repository';
import { isBodyRefusal, receiptOf, signatureInvalid, SubmissionReceipts } from './result-receipt';
import { leaseLost, ResultCaller, RunRelease } from './run-release';
import { SchedulingConfig } from './scheduling.config';
import { noEffect, OkEffect, Verification, Verdict } from './verification';
import { ZkResults } from './zk-results';
import { ControlPlaneClock } from '../outages/control-plane-clock';

const OPEN: ReadonlySet<string> = new Set(['pending', 'running']);

/**
 * POST /runs/:run_id/result. Fence check, hash check, the run row, the task's state change and the stored
 * answer commit in one transaction; an identical repeat (same run, same fence, same body) gets that answer.
 */
@Injectable()
export class RunResultService {
  private readonly logger = new Logger('Verification');

  constructor(
    private readonly runs: RunsRepository,
    private readonly tasks: TasksRepository,
    private readonly config: SchedulingConfig,
    private readonly tx: TransactionRunner,
    private readonly signal: WorkSignal,
    private readonly metrics: VcpMetrics,
    private readonly events: TaskEventSignal,
    private readonly zkResults: ZkResults,
    private readonly verification: Verification,
    private readonly reputation: ReputationRepository,
    private readonly leased: LeasedRuns,
    private readonly release: RunRelease,
    private readonly quorumResults: QuorumResultsRepository,
    private readonly outages: ControlPlaneClock,
  ) {}

  async submit(
    nodeId: string,
    runId: string,
    dto: RunResultRequestDto,
    caller?: ResultCaller,
  ): Promise<RunResultResponseDto> {
    await this.outages.settled();
    try {
      return await this.submitRead(nodeId, runId, dto, caller);
    } catch (error) {
      // A body that reads but does not hold together (an output_hash not of its output, a stray or missing
      // proof) ends its node's live lease as a body refused by validation does (RefusedResults): resent as
      // it is, it would be refused again. A refused signature has ended its lease already.
      if (isBodyRefusal(error)) await this.release.refuseResultQuietly(runId, nodeId, dto.fence, caller);
      throw error;
    }
  }

  private async submitRead(
    nodeId: string,
    runId: string,
    dto: RunResultRequestDto,
    caller: ResultCaller | undefined,
  ): Promise<RunResultResponseDto> {
    const requestHash = jsonSha256Hex(dto);
    const receipts = new SubmissionReceipts();
    const solo = await this.soloCompletion(nodeId, runId, dto, { requestHash, receipts });
    if (solo) return solo;
    let effect: OkEffect = noEffect('');
    let finished: { taskType?: string; status?: string } = {};
    // A proof costs up to seconds of a verifier thread: a result this node did not sign never gets that far.
    if (
      dto.proof !== undefined &&
      (await this.zkResults.signedByAnotherKey(nodeId, runId, dto, receipts, caller))
    )
      throw signatureInvalid();
    const zk = await this.zkResults.verify(nodeId, runId, dto);
    const proofRejected = zk !== null && !zk.accepted;
    // What a refused signature must do once its transaction committed (the refusal is the null response).
    let afterRefusal: (() => void) | undefined;
    let replayed = false;
    const response = await this.tx.run(async (): Promise<RunResultResponseDto | null> => {
      // Run again after a deadlock: what a rolled-back attempt decided must not be counted for this one.
      effect = noEffect('');
      finished = {};
      afterRefusal = undefined;
      replayed = false;
      const run = isUuid(runId) ? await this.runs.lockForResult(runId.toLowerCase()) : null;
      // Another node's run answers like a lost lease: the caller learns nothing about runs not leased to it.
      if (!run || run.nodeId !== nodeId) throw leaseLost();
      if (run.status !== 'leased') {
        if (run.fence === dto.fence && run.resultRequestHash === requestHash) {
          replayed = true;
          return run.resultResponse as RunResultResponseDto;
        }
        throw leaseLost();
      }
      if (run.fence !== dto.fence || !run.leaseLive) throw leaseLost();
      // The pinned hash: lowercase hex SHA-256 of the RFC 8785 form of `output` (absent output is null).
      const outputHash = jsonSha256Hex(dto.output ?? null);
      if (outputHash !== dto.output_hash) {
        throw AppException.validation([
          { field: 'output_hash', message: 'does not match the SHA-256 of the RFC 8785 form of output' },
        ]);
      }
      // The receipt is checked before anything changes: a result the node did not sign is not its result.
      if (run.nodePublicKey === null) {
        throw new AppException(
          ErrorCode.Forbidden,
          'This node registered no public key: its results cannot be verified (register it with one)',
          { reason: ErrorReason.NoPublicKey },
        );
      }
      const receipt = receiptOf(run, dto, outputHash);
      if (!receipts.verify(receipt, dto.signature, run.nodePublicKey)) {
        // Audited and the lease given back in this transaction, which commits; the 422 follows it.
        afterRefusal = await this.release.refuseSignature(run, dto.fence, caller);
        return null;
      }
      // Inside one transaction: if the fenced update below finds the lease gone, all of this rolls back.
      // A zk_proof task never completes on an unverified proof (verify saw another lease state: answer again).
      this.zkResults.requireProof(run, dto);
      if (run.taskType === 'zk_proof' && dto.outcome === 'ok' && zk === null) throw leaseLost();
      effect = proofRejected
        ? { ...noEffect(run.taskStatus), ...(await this.zkResults.reject(run)) }
        : await this.applyOutcome(run, dto, outputHash, { deferCompletion: zk === null });
      if (zk) await this.zkResults.store(run, zk, effect.taskStatus === 'completed');
      // A proof is its own verification: verified, the run is valid; a false proof, invalid. A valid proof of
      // other public signals is not judged: the task's declared signals may be what is wrong (the node proved
      // its inputs), and counting it would let a task's creator get honest nodes quarantined.
      if (zk && !zk.otherStatement) {
        effect.verdict = zk.accepted ? 'valid' : 'invalid';
        await this.verification.judge(
          run.taskId,
          [{ runId: run.runId, nodeId: run.nodeId, verdict: effect.verdict }],
          effect,
        );
      }
      if (OPEN.has(run.taskStatus) && !OPEN.has(effect.taskStatus)) {
        finished.taskType = run.taskType;
        finished.status = effect.taskStatus;
      }
      const response: RunResultResponseDto = {
        run_id: run.runId,
        task_id: run.taskId,
        run_status: proofRejected ? 'rejected' : dto.outcome === 'ok' ? 'succeeded' : 'failed',
        task_status: effect.taskStatus,
        task_status_reason: effect.reason,
      };
      const recorded = await this.record(run, dto, {
        outcome: proofRejected ? 'proof_invalid' : dto.outcome,
        outputHash,
        requestHash,
        response,
        receipt,
        verdict: effect.verdict,
        nodePublicKey: run.nodePublicKey,
        completes: effect.completesWithRun === true,
      });
      if (!recorded) throw leaseLost();
      // After this run's own record (still leased until then): the task's other leases serve nothing now.
      if (finished.status === 'failed') await this.tasks.withdrawLeases(run.taskId);
      return response;
    });
    if (response === null) {
      afterRefusal?.();
      throw signatureInvalid();
    }
    // An identical repeat: the first answer was counted and announced when it committed, not again.
    if (replayed) return response;
    this.announce(response, effect, proofRejected ? 'proof_invalid' : dto.outcome, finished);
    if (effect.quarantined.length > 0) await this.releaseQuarantined(effect.quarantined);
    return response;
  }

  /**
   * Security: a node this result quarantined loses its other leases at once, so nothing it still computes is
   * accepted (a trusted node's run would complete its task alone); the runs go back to the queue for others.
   */
  private async releaseQuarantined(nodeIds: string[]): Promise<void> {
    try {
      const afterCommit = await this.release.releaseNodes(nodeIds, 'node_quarantined');
      afterCommit();
    } catch (error) {
      // The result committed and its answer stands; those leases then end when they expire.
      this.logger.error({
        msg: "releasing a quarantined node's leases failed",
        node_ids: nodeIds,
        err: error,
      });
    }
  }

  /** After a result committed: wake-ups, the task's event stream and the metrics. */
  private announce(
    response: RunResultResponseDto,
    effect: OkEffect,
    outcome: RunOutcome,
    finished: { taskType?: string; status?: string },
  ): void {
    if (effect.requeued) this.signal.notify();
    this.events.publish(response.task_id);
    this.metrics.taskRunFinished(outcome);
    this.countVerdicts(effect);
    if (finished.taskType && finished.status) this.metrics.taskFinished(finished.taskType, finished.status);
  }

  /**
   * The common result without a transaction: an `ok` result of a live lease whose task it completes alone (not
   * zk_proof; min_nodes 1, or a run target of 1), signed by the node. Its receipt is rebuilt from the facts this
   * replica kept when it leased the run (LeasedRuns), else from an unlocked read of the run. The one write
   * (RunsRepository.finish with a completion) then checks under its own locks everything that can have changed
   * — the lease (fence, leased, leaseHoldsSql), the task (still open, still one the run completes alone) and the
   * node's key — and writes nothing otherwise. A remembered quorum run's result, checked the same way, goes to
   * quorumResult. null: not this case, or the state moved on; the locked path below then decides (and
   * audits a bad signature), as it always did.
   */
  private async soloCompletion(
    nodeId: string,
    runId: string,
    dto: RunResultRequestDto,
    { requestHash, receipts }: { requestHash: string; receipts: SubmissionReceipts },
  ): Promise<RunResultResponseDto | null> {
    // A proof or public signals (refused on any task but zk_proof) are answered by the locked path.
    if (
      dto.outcome !== 'ok' ||
      dto.proof !== undefined ||
      (dto.public_signals ?? null) !== null ||
      !isUuid(runId)
    ) {
      return null;
    }
    const id = runId.toLowerCase();
    const remembered = this.leased.take(id);
    // Elsewhere than on the embedded database a quorum result is decided with its task locked: its hash and
    // signature are checked there, not twice.
    if (remembered && !remembered.completesAlone && !this.quorumResults.applies) return null;
    const run = remembered ?? (await this.soloRunAsRead(id));
    if (!run || run.nodeId !== nodeId || run.fence !== dto.fence || run.taskType === 'zk_proof') return null;
    const outputHash = jsonSha256Hex(dto.output ?? null);
    if (outputHash !== dto.output_hash) return null;
    const receipt = receiptOf(run, dto, outputHash);
    if (!receipts.verify(receipt, dto.signature, run.nodePublicKey)) return null;
    if (!run.completesAlone) return this.quorumResult(run, dto, { outputHash, requestHash, receipt });
    const effect = noEffect('completed');
    const response: RunResultResponseDto = {
      run_id: run.runId,
      task_id: run.taskId,
      run_status: 'succeeded',
      task_status: effect.taskStatus,
      task_status_reason: effect.reason,
    };
    const { nodePublicKey } = run;
    const fields = { outcome: dto.outcome, outputHash, requestHash, response, receipt, nodePublicKey };
    try {
      if (!(await this.record(run, dto, { ...fields, verdict: effect.verdict, completes: true })))
        return null;
    } catch (error) {
      // PostgreSQL chose this statement as a deadlock's victim: nothing was written; the locked path decides.
      if (isRetryableConflict(error)) return null;
      throw error;
    }
    this.announce(response, effect, dto.outcome, { taskType: run.taskType, status: 'completed' });
    return response;
  }

  /**
   * A quorum run's checked `ok` result, undecided or deciding with every report agreeing, in one statement on
   * the embedded database (QuorumResultsRepository). null when it wrote nothing: the locked path decides.
   */
  private async quorumResult(
    run: LeasedRunFacts,
    dto: RunResultRequestDto,
    checked: { outputHash: string; requestHash: string; receipt: RunReceipt },
  ): Promise<RunResultResponseDto | null> {
    const response: RunResultResponseDto = {
      run_id: run.runId,
      task_id: run.taskId,
      run_status: 'succeeded',
      task_status: '',
      task_status_reason: null,
    };
    const recorded = runOutcomeOf(dto, {
      ...checked,
      outcome: dto.outcome,
      response,
      nodePublicKey: run.nodePublicKey,
    });
    const done = await this.quorumResults.finish(run.runId, run.fence, run.taskId, {
      ...recorded,
      verdict: null,
    });
    if (done === null) return null;
    response.task_status = done.taskStatus;
    const effect = noEffect(done.taskStatus);
    if (done.decision === 'undecided') this.announce(response, effect, dto.outcome, {});
    else {
      effect.verdict = 'valid';
      effect.judged = [...done.earlier, run].map((r) => ({
        runId: r.runId,
        nodeId: r.nodeId,
        verdict: 'valid',
      }));
      this.announce(response, effect, dto.outcome, { taskType: run.taskType, status: 'completed' });
    }
    return response;
  }

  /** The run as read without locks, when it looks like a solo completion (see soloCompletion); else null. */
  private async soloRunAsRead(runId: string): Promise<LeasedRunFacts | null> {
    const run = await this.runs.readForResult(runId);
    if (!run || run.status !== 'leased' || !run.leaseLive || run.nodePublicKey === null) return null;
    if (!OPEN.has(run.taskStatus) || (run.minNodes !== 1 && run.runTarget !== 1)) return null;
    return { ...run, nodePublicKey: run.nodePublicKey, completesAlone: true };
  }

  /** The run's result, and with `completes` its task's completion, if the lease still holds (else false). */
  private record(
    run: Pick<RunForResult, 'runId' | 'taskId' | 'fence'>,
    dto: RunResultRequestDto,
    result: RecordedResult & { verdict: Verdict | null; completes: boolean },
  ): Promise<boolean> {
    return this.runs.finish(run.runId, run.fence, {
      ...runOutcomeOf(dto, result),
      verdict: result.verdict,
      completion: result.completes ? { taskId: run.taskId, output: dto.output ?? null } : null,
    });
  }

  private countVerdicts(effect: OkEffect): void {
    for (const nodeId of effect.quarantined) {
      this.logger.warn({ msg: 'node quarantined for invalid results', node_id: nodeId });
    }
    const count = (verdict: Verdict) => effect.judged.filter((run) => run.verdict === verdict).length;
    this.metrics.runsVerified('valid', count('valid'));
    this.metrics.runsVerified('invalid', count('invalid'));
    if (effect.mismatch) this.metrics.quorumMismatch();
  }

  /** What the result does to the task: complete (by quorum), fail, or give the slot back to the queue. */
  private async applyOutcome(
    run: RunForResult,
    dto: RunResultRequestDto,
    outputHash: string,
    options: { deferCompletion: boolean },
  ): Promise<OkEffect> {
    const outcome = dto.outcome;
    // A task that this result alone completes is completed by the statement that records the result (one
    // statement fewer per result); not for zk_proof results, whose proof is stored in between.
    if (outcome === 'ok') return this.verification.onOk(run, outputHash, dto.output ?? null, options);
    const taskFault = TASK_FAULT_OUTCOMES.includes(outcome);
    if (!taskFault) await this.reputation.countError(run.nodeId);
    if (!OPEN.has(run.taskStatus)) return noEffect(run.taskStatus);
    // Deterministic failure: the same fault (outcome and output hash) from distinct nodes, as many as the
    // quorum (at least two), fails the task at once.
    if (
      taskFault &&
      (await this.runs.sameFaultElsewhere(run.taskId, run.runId, outcome, outputHash)) + 1 >=
        Math.max(2, run.quorum)
    ) {
      await this.tasks.fail(run.taskId, 'unexecutable');
      return { ...noEffect('failed'), reason: 'unexecutable' };
    }
    // A node fault, or a task fault not yet confirmed: the slot goes back to the queue.
    const released = await this.tasks.releaseSlot(run, this.config.retryBaseMs);
    if (released === 'failed') return { ...noEffect('failed'), reason: 'attempts_exhausted' };
    if (requeued(released)) return { ...noEffect(released), requeued: true };
    return noEffect(run.taskStatus);
  }
}
