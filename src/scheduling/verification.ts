import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { NO_QUORUM_YET, TasksRepository } from '../tasks/tasks.repository';
import { ReputationRepository } from './reputation.repository';
import type { RunForResult } from './runs.repository';
import { RunsRepository } from './runs.repository';
import { SchedulingConfig } from './scheduling.config';

const OPEN: ReadonlySet<string> = new Set(['pending', 'running']);

export type Verdict = 'valid' | 'invalid';

export interface JudgedRun {
  runId: string;
  nodeId: string;
  verdict: Verdict;
}

/** What an `ok` result did, and what to count once the transaction commits. */
export interface OkEffect {
  taskStatus: string;
  reason: string | null;
  requeued: boolean;
  /** The reporting run's own verdict (null: not compared, e.g. min_nodes 1 or still waiting for others). */
  verdict: Verdict | null;
  /** Every run judged by this result, the reporting one included. */
  judged: JudgedRun[];
  /** Every sought run reported and no output had a quorum. */
  mismatch: boolean;
  quarantined: string[];
  /**
   * The task completes with the reporting run's output, written in the same statement as the run's result
   * (RunsRepository.finish) instead of one of its own: set only when onOk was asked to defer it.
   */
  completesWithRun?: boolean;
}

/** A result's effect before anything is decided: the task stays as it is. */
export const noEffect = (taskStatus: string): OkEffect => ({
  taskStatus,
  reason: null,
  requeued: false,
  verdict: null,
  judged: [],
  mismatch: false,
  quarantined: [],
});

/**
 * The quorum (issue 18). A task of `min_nodes` n ≥ 2 seeks n succeeded runs on nodes of distinct owners (the
 * claim and a unique index see to that). When `quorum` of them report one output hash, the task completes with
 * that output: those runs are valid, the others invalid. When every sought run has reported and no hash has a
 * quorum, the task seeks one more run (`run_target` + 1) until `max_runs`, then fails as `no_consensus`. A
 * result that arrives after completion is still compared with the accepted hash and counted. Nothing here is
 * ever shown to a node: a node's answer is its status code, not the others' hashes.
 */
@Injectable()
export class Verification {
  constructor(
    private readonly runs: RunsRepository,
    private readonly tasks: TasksRepository,
    private readonly reputation: ReputationRepository,
    private readonly audit: AuditService,
    private readonly config: SchedulingConfig,
  ) {}

  /**
   * Inside the result's transaction, with the run and its task locked. `deferCompletion`: a task that this one
   * result completes is left for the caller to complete with the run's result (`completesWithRun`).
   */
  async onOk(
    run: RunForResult,
    outputHash: string,
    output: unknown,
    { deferCompletion = false }: { deferCompletion?: boolean } = {},
  ): Promise<OkEffect> {
    const effect = noEffect(run.taskStatus);
    if (!OPEN.has(run.taskStatus)) {
      // A late result: the decision is made, but the node's answer still counts for its record.
      if (run.taskStatus === 'completed' && run.canonicalHash !== null) {
        effect.verdict = outputHash === run.canonicalHash ? 'valid' : 'invalid';
        await this.judge(
          run.taskId,
          [{ runId: run.runId, nodeId: run.nodeId, verdict: effect.verdict }],
          effect,
        );
      }
      return effect;
    }
    if (run.minNodes === 1 || run.runTarget === 1) {
      // One node's word is the whole answer when min_nodes is 1, or when adaptive replication trusted the
      // node to run the task alone: nothing to compare it with.
      if (deferCompletion) return { ...effect, taskStatus: 'completed', completesWithRun: true };
      await this.tasks.complete(run.taskId, output, run.runId);
      return { ...effect, taskStatus: 'completed' };
    }
    const earlier = await this.runs.earlierSucceeded(run);
    const reported = [
      ...earlier,
      { runId: run.runId, nodeId: run.nodeId, outputHash, publicKey: run.nodePublicKey },
    ];
    // Counted by signing key, as the receipt's offline check counts them: one key registered under two owners
    // (a copied data dir) is one voice, not a quorum.
    const vouching = new Set(
      reported.filter((r) => r.outputHash === outputHash).map((r) => r.publicKey ?? `run:${r.runId}`),
    );
    if (vouching.size >= run.quorum) {
      await this.tasks.complete(run.taskId, output, run.runId);
      const judged: JudgedRun[] = reported.map((r) => ({
        runId: r.runId,
        nodeId: r.nodeId,
        verdict: r.outputHash === outputHash ? 'valid' : 'invalid',
      }));
      // The reporting run's verdict is written with its result; the earlier runs' by judge().
      await this.judge(run.taskId, judged, effect, run.runId);
      return { ...effect, taskStatus: 'completed', verdict: 'valid' };
    }
    if (reported.length < run.runTarget) return effect;
    effect.mismatch = true;
    if (await this.tasks.seekAnotherRun(run.taskId)) {
      return { ...effect, taskStatus: 'running', reason: NO_QUORUM_YET, requeued: true };
    }
    await this.tasks.fail(run.taskId, 'no_consensus');
    await this.audit.record(
      {
        action: 'task.no_consensus',
        status: 'failure',
        userId: null,
        resourceType: 'task',
        resourceId: run.taskId,
        metadata: { runs: reported.length, quorum: run.quorum, max_runs: run.maxRuns },
      },
      null,
    );
    return { ...effect, taskStatus: 'failed', reason: 'no_consensus' };
  }

  /**
   * Counts verdicts into the nodes' records, audits every invalid run, and quarantines a node whose invalid
   * share crossed the threshold (its claims are refused from then on; an admin can reinstate it).
   */
  async judge(taskId: string, judged: JudgedRun[], effect: OkEffect, reportingRunId?: string): Promise<void> {
    effect.judged.push(...judged);
    await this.reputation.recordVerdicts(
      taskId,
      judged.map((r) => ({
        nodeId: r.nodeId,
        verdict: r.verdict,
        setOnRun: reportingRunId === undefined || r.runId === reportingRunId ? null : r.runId,
      })),
    );
    const liars = new Set<string>();
    for (const run of judged) {
      if (run.verdict !== 'invalid') continue;
      liars.add(run.nodeId);
      await this.audit.record(
        {
          action: 'run.invalid',
          status: 'failure',
          userId: null,
          resourceType: 'task_run',
          resourceId: run.runId,
          metadata: { task_id: taskId, node_id: run.nodeId },
        },
        null,
      );
    }
    const { quarantineMinInvalid, quarantineInvalidPercent } = this.config;
    for (const nodeId of liars) {
      const reason = await this.reputation.quarantineIfDue(
        nodeId,
        quarantineMinInvalid,
        quarantineInvalidPercent,
      );
      if (reason === null) continue;
      effect.quarantined.push(nodeId);
      await this.audit.record(
        {
          action: 'node.quarantined',
          status: 'success',
          userId: null,
          resourceType: 'node',
          resourceId: nodeId,
          metadata: { reason, task_id: taskId },
        },
        null,
      );
    }
  }
}
