import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { RequestMeta } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { isUuid } from '../common/validation/uuid';
import type { RunOutcome } from '../common/runs/run-outcomes';
import { TransactionRunner } from '../database/transaction-runner';
import type { LeaseLossCause } from '../metrics/metric-labels';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { NodeLoss } from '../nodes/node-loss';
import { TaskEventSignal } from '../tasks/task-event-signal';
import { requeued, TasksRepository } from '../tasks/tasks.repository';
import { WorkSignal } from '../tasks/work-signal';
import { ReputationRepository } from './reputation.repository';
import { EndedLease, EndedLeasesRepository } from './ended-leases.repository';
import { ControlPlaneClock } from '../outages/control-plane-clock';

/**
 * Who sent a refused result, for its audit row: the node key's owner and the request (IP, user agent, request
 * id, the key's id). A result from the embedded node's direct transport has none.
 */
export interface ResultCaller {
  userId: string | null;
  meta: RequestMeta | null;
}

const NO_CALLER: ResultCaller = { userId: null, meta: null };

/** A result or a release of a run whose lease the caller no longer holds (or never did). */
export const leaseLost = () =>
  new AppException(ErrorCode.Conflict, 'The lease of this run is lost: stop and claim again', {
    reason: ErrorReason.LeaseLost,
  });

/** What giving back ended leases did; applied to metrics and wake-ups once its transaction has committed. */
export interface ReleaseEffect {
  cause: LeaseLossCause;
  leases: number;
  requeued: number;
  /** Task types of the tasks that failed as attempts_exhausted. */
  exhausted: string[];
  taskIds: string[];
  /** The nodes whose leases ended, each once. */
  nodeIds: string[];
}

/** A leased run its node will not deliver, and the lease's fence. */
interface UndeliveredRun {
  runId: string;
  taskId: string;
  fence: string;
}

/** What returnUndelivered did; announced once its transaction has committed. */
interface UndeliveredEffect {
  outcome: RunOutcome;
  requeued: number;
  /** The tasks whose run's lease it ended. */
  taskIds: string[];
}

/**
 * Leases that end without a result — past their time (the lease sweep) or because their node was deleted,
 * rejected or went offline (at once, in the transaction that lost the node) — give their slot back: the task
 * is queued again at once, or fails as attempts_exhausted. Each is audited as `run.lease_lost`.
 */
@Injectable()
export class RunRelease implements OnModuleInit {
  private readonly logger = new Logger('RunRelease');

  constructor(
    private readonly leases: EndedLeasesRepository,
    private readonly tasks: TasksRepository,
    private readonly audit: AuditService,
    private readonly tx: TransactionRunner,
    private readonly nodeLoss: NodeLoss,
    private readonly signal: WorkSignal,
    private readonly events: TaskEventSignal,
    private readonly metrics: VcpMetrics,
    private readonly reputation: ReputationRepository,
    private readonly outages: ControlPlaneClock,
  ) {}

  onModuleInit(): void {
    this.nodeLoss.useReleaser((nodeIds, cause) => this.releaseNodes(nodeIds, cause));
  }

  /**
   * Ends the nodes' leases now and gives their slots back, in a transaction of its own (or the caller's);
   * resolves to what must happen once that transaction has committed.
   */
  async releaseNodes(nodeIds: string[], cause: LeaseLossCause): Promise<() => void> {
    const effect = await this.tx.run(async () =>
      this.giveBack(await this.leases.releaseForNodes(nodeIds), cause),
    );
    return () => this.afterCommit(effect);
  }

  /** Inside the caller's transaction. */
  async giveBack(ended: EndedLease[], cause: LeaseLossCause): Promise<ReleaseEffect> {
    const nodeIds = [...new Set(ended.map((run) => run.nodeId))];
    const effect: ReleaseEffect = {
      cause,
      leases: ended.length,
      requeued: 0,
      exhausted: [],
      taskIds: [],
      nodeIds,
    };
    await this.reputation.countLost(ended.map((run) => run.nodeId));
    for (const run of ended) {
      // No backoff: a lost lease says the node went away, not that the task fails (max_attempts still bounds
      // a task that takes its nodes down), and the promise is redispatch within the lease + 2 s.
      // A quarantine is the server taking the run back for what the node did elsewhere: the task gets its
      // attempt back (a node cannot get itself quarantined again and again: that takes an admin's reinstate).
      const released =
        cause === 'node_quarantined'
          ? await this.tasks.returnSlot(run.taskId)
          : await this.tasks.releaseSlot(run, 0, 'attempts_exhausted', 'waiting for a node');
      if (requeued(released)) effect.requeued++;
      if (released === 'failed') {
        effect.exhausted.push(run.taskType);
        await this.tasks.withdrawLeases(run.taskId);
      }
      effect.taskIds.push(run.taskId);
      await this.audit.record(
        {
          action: 'run.lease_lost',
          status: 'failure',
          userId: null,
          resourceType: 'task_run',
          resourceId: run.runId,
          metadata: { task_id: run.taskId, node_id: run.nodeId, cause, task: released },
        },
        null,
      );
    }
    return effect;
  }

  afterCommit(effect: ReleaseEffect): void {
    if (effect.leases === 0) return;
    this.metrics.leaseExpired(effect.cause, effect.leases);
    const outcome = effect.cause === 'lease_expired' ? 'lease_expired' : 'node_lost';
    for (let i = 0; i < effect.leases; i++) this.metrics.taskRunFinished(outcome);
    for (const taskType of effect.exhausted) this.metrics.taskFinished(taskType, 'failed');
    if (effect.requeued > 0) this.signal.notify();
    this.events.publish(...effect.taskIds);
  }

  /**
   * A result whose signature does not verify against the node's registered key (audited): the node cannot
   * deliver this run (its key pair is not the registered one, or it signs something else), which is no fault
   * of the task. Its lease ends now and the task gets back its slot and the attempt, queued again at once,
   * instead of waiting out the lease and paying an attempt for it; the node's record counts an error. In the
   * caller's transaction or one of its own; the result is what must happen once it committed.
   */
  async refuseSignature(
    run: { runId: string; taskId: string; nodeId: string },
    fence: string,
    caller: ResultCaller = NO_CALLER,
  ): Promise<() => void> {
    const ended = await this.tx.run(async () => {
      await this.audit.record(
        {
          action: 'run.signature_invalid',
          status: 'failure',
          userId: caller.userId,
          resourceType: 'task_run',
          resourceId: run.runId,
          metadata: { task_id: run.taskId, node_id: run.nodeId, fence },
        },
        caller.meta,
      );
      const effect = await this.returnUndelivered([{ ...run, fence }], 'signature_invalid');
      if (effect.taskIds.length > 0) await this.reputation.countError(run.nodeId);
      return effect;
    });
    return () => this.announceUndelivered(ended);
  }

  /**
   * A result its node sent for the run's live lease that was refused before it was read: not JSON (400), or a
   * body that failed validation (422; see RefusedResults). As with a refused signature, the node cannot deliver
   * this run in a form the server reads, which is no fault of the task: the lease ends now (outcome
   * `result_invalid`, audited `run.result_invalid`), the task gets back its slot and the attempt, and the node's
   * record counts an error. `fence` is the one the body named, or null when it named none: a run is leased
   * once, so its id alone names the lease. Nothing changes unless `nodeId` holds that live lease. The result is
   * what must happen once its transaction committed.
   */
  async refuseResult(
    runId: string,
    nodeId: string,
    fence: string | null,
    caller: ResultCaller = NO_CALLER,
  ): Promise<() => void> {
    const run = await this.leases.heldLive(runId, nodeId);
    if (!run || (fence !== null && fence !== run.fence)) return () => undefined;
    const ended = await this.tx.run(async () => {
      const effect = await this.returnUndelivered([run], 'result_invalid');
      if (effect.taskIds.length === 0) return effect;
      await this.audit.record(
        {
          action: 'run.result_invalid',
          status: 'failure',
          userId: caller.userId,
          resourceType: 'task_run',
          resourceId: run.runId,
          metadata: { task_id: run.taskId, node_id: nodeId, fence: run.fence },
        },
        caller.meta,
      );
      await this.reputation.countError(nodeId);
      return effect;
    });
    return () => this.announceUndelivered(ended);
  }

  /**
   * refuseResult from a refusal's path (RefusedResults, RunResultService): the refusal is answered as it is
   * whatever happens here, so a failure to end the lease is logged and the lease expires as it used to.
   */
  async refuseResultQuietly(
    runId: string,
    nodeId: string,
    fence: string | null,
    caller: ResultCaller = NO_CALLER,
  ): Promise<void> {
    try {
      (await this.refuseResult(runId.toLowerCase(), nodeId, fence, caller))();
    } catch (error) {
      this.logger.error({ msg: 'ending the lease of a refused result failed', run_id: runId, err: error });
    }
  }

  /**
   * Runs a claim leased or replayed for a caller that had gone meanwhile (its connection closed while the claim
   * statement ran): that caller will not run them. Each lease ends now (outcome `claim_abandoned`) unless another
   * answer with the run may have reached a live caller (see EndedLeasesRepository.abandonClaimed); the task of
   * each lease ended gets back the slot and the attempt, queued again at once, as if that claim had not happened:
   * no fault of the task's, nor of the node's (an agent stopping or restarting), where the run waited out its
   * lease and counted as lost.
   */
  async handBack(runs: UndeliveredRun[]): Promise<void> {
    const abandon = (run: UndeliveredRun) => this.leases.abandonClaimed(run.runId, run.fence);
    this.announceUndelivered(
      await this.tx.run(() => this.returnUndelivered(runs, 'claim_abandoned', abandon)),
    );
  }

  /**
   * POST /runs/:run_id/release: a node that is stopping hands back a run it will not finish. The lease ends now
   * (outcome `released`) and the task gets back its slot and the attempt, queued again at once, instead of
   * waiting out the lease and counting it as lost: an orderly hand-back, on no fault counter of the task's or
   * the node's. Anything but the caller's live lease with that fence (another node's run, a stale fence, an
   * expired or already ended lease, no such run) is 409 `lease_lost`, as a result would be.
   */
  async releaseOwn(nodeId: string, runId: string, fence: string): Promise<void> {
    if (!isUuid(runId)) throw leaseLost();
    await this.outages.settled();
    const effect = await this.tx.run(async () => {
      const ended = await this.leases.endReleased(runId.toLowerCase(), nodeId, fence);
      if (!ended) return null;
      const effect: UndeliveredEffect = { outcome: 'released', requeued: 0, taskIds: [] };
      await this.returnSlot(effect, ended.taskId);
      return effect;
    });
    if (!effect) throw leaseLost();
    this.announceUndelivered(effect);
  }

  /**
   * An embedded node starting on the embedded database: whatever that node still holds was leased by a server
   * process that is gone (killed, or stopped past its grace), since only one process at a time opens that
   * database. Nobody will deliver those runs: they are handed back as a release would, not left to expire.
   */
  async releaseLeftBehind(nodeId: string): Promise<number> {
    const effect = await this.tx.run(async () => {
      const effect: UndeliveredEffect = { outcome: 'released', requeued: 0, taskIds: [] };
      for (const ended of await this.leases.endAllReleased(nodeId))
        await this.returnSlot(effect, ended.taskId);
      return effect;
    });
    this.announceUndelivered(effect);
    return effect.taskIds.length;
  }

  /**
   * Inside the caller's transaction: ends each lease still held (`outcome`; `end` ends one, null if it did not);
   * its task gets slot and attempt back.
   */
  private async returnUndelivered(
    runs: UndeliveredRun[],
    outcome: RunOutcome,
    end = (run: UndeliveredRun) => this.leases.endUndelivered(run.runId, run.fence, outcome),
  ): Promise<UndeliveredEffect> {
    const effect: UndeliveredEffect = { outcome, requeued: 0, taskIds: [] };
    for (const run of runs) {
      if (await end(run)) await this.returnSlot(effect, run.taskId);
    }
    return effect;
  }

  /** Inside the caller's transaction: the task of a lease just ended gets slot and attempt back (in `effect`). */
  private async returnSlot(effect: UndeliveredEffect, taskId: string): Promise<void> {
    effect.taskIds.push(taskId);
    if (requeued(await this.tasks.returnSlot(taskId))) effect.requeued++;
  }

  /** Once returnUndelivered's transaction committed. */
  private announceUndelivered(effect: UndeliveredEffect): void {
    for (let i = 0; i < effect.taskIds.length; i++) this.metrics.taskRunFinished(effect.outcome);
    if (effect.requeued > 0) this.signal.notify();
    if (effect.taskIds.length > 0) this.events.publish(...effect.taskIds);
  }
}
