import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from '../common/auth/principal';
import { Clock } from '../common/clock/clock';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { verifyReceipt } from '../common/receipts/receipt';
import type { TaskRecord } from '../tasks/tasks.repository';
import { TasksService } from '../tasks/tasks.service';
import type { ServerPublicKeyDto, SignedTaskReceiptDto } from './dto/receipt-responses.dto';
import { ReceiptsConfig } from './receipts.config';
import { AcceptedRunRecord, ReceiptsRepository } from './receipts.repository';
import {
  keyIdOf,
  ReceiptRun,
  signTaskReceipt,
  TASK_RECEIPT_VERSION,
  TaskReceipt,
  verificationOf,
} from './task-receipt';

const unavailable = () =>
  new AppException(
    ErrorCode.Conflict,
    'This task has no signed run receipt to vouch for its output (it completed before receipts were kept)',
    { reason: ErrorReason.ReceiptUnavailable },
  );

/** The server's receipt key and the signed receipts of completed tasks. */
@Injectable()
export class ReceiptsService {
  private readonly logger = new Logger('Receipts');
  private readonly keyId: string;

  constructor(
    private readonly config: ReceiptsConfig,
    private readonly taskAccess: TasksService,
    private readonly receipts: ReceiptsRepository,
    private readonly clock: Clock,
  ) {
    this.keyId = keyIdOf(config.publicKeyBase64);
  }

  publicKey(): ServerPublicKeyDto {
    return { algorithm: 'Ed25519', public_key: this.config.publicKeyBase64, key_id: this.keyId };
  }

  async taskReceipt(principal: Principal, taskId: string): Promise<SignedTaskReceiptDto> {
    // The same rule as GET /tasks/:task_id: the creator or an admin; anyone else gets its 404.
    const task = await this.taskAccess.visible(principal, taskId);
    if (task.status !== 'completed') {
      throw new AppException(
        ErrorCode.Conflict,
        `The task is ${task.status}: only a completed task has a receipt`,
        {
          reason: ErrorReason.TaskNotCompleted,
        },
      );
    }
    const evidence = await this.receipts.evidence(task.taskId);
    const runs = (evidence?.runs ?? []).flatMap((run) => this.receiptRun(task, run));
    const canonical = runs.find((run) => run.run_id === task.canonicalRunId);
    if (!evidence?.inputsHash || !canonical || !task.completedAt) throw unavailable();

    const receipt: TaskReceipt = {
      version: TASK_RECEIPT_VERSION,
      task_id: task.taskId,
      task_type: task.taskType,
      inputs_hash: evidence.inputsHash,
      // Security: the arguments (the guest's argv, which also seeds its random source unless deterministic) and
      // the determinism change a WASM run's output as much as its inputs do; the node's run receipt (pinned)
      // binds the task, and the server states them here.
      ...(task.moduleId
        ? { module_hash: task.moduleId, args: evidence.args, deterministic: evidence.deterministic }
        : {}),
      ...(task.circuitId ? { circuit_id: task.circuitId } : {}),
      verification: verificationOf(task.taskType, task.minNodes, task.runTarget === 1),
      min_nodes: task.minNodes,
      quorum: task.quorum,
      output_hash: canonical.receipt.output_hash,
      canonical_run_id: canonical.run_id,
      ...(task.taskType === 'zk_proof' && task.proofId ? { proof_id: task.proofId } : {}),
      completed_at: task.completedAt.toISOString(),
      issued_at: this.clock.now().toISOString(),
      server_key_id: this.keyId,
      server_public_key: this.config.publicKeyBase64,
      runs,
    };
    return { receipt, signature: signTaskReceipt(receipt, this.config.signingKey) };
  }

  /**
   * A run as the receipt lists it, or nothing when its evidence is gone or no longer verifies (a deleted node,
   * a node that re-registered with another key): the server never signs a run that its own check would fail.
   */
  private receiptRun(task: TaskRecord, run: AcceptedRunRecord): ReceiptRun[] {
    const { receipt, signature, nodePublicKey } = run;
    if (receipt && signature && nodePublicKey && verifyReceipt(receipt, signature, nodePublicKey)) {
      return [
        {
          run_id: run.runId,
          node_id: run.nodeId,
          node_public_key: nodePublicKey,
          verdict: run.verdict,
          receipt,
          signature,
        },
      ];
    }
    if (receipt || signature) {
      this.logger.warn(
        `task ${task.taskId}: run ${run.runId} left out of the receipt (its signature no longer verifies)`,
      );
    }
    return [];
  }
}
