import type { ClaimedRun } from './claims.repository';

/** How many leased runs a replica remembers for their results (~200 bytes each). */
export const LEASED_RUNS_REMEMBERED = 10_000;

/** What a run's receipt is rebuilt from, fixed when the run was leased. */
export interface LeasedRunFacts {
  runId: string;
  taskId: string;
  nodeId: string;
  fence: string;
  taskType: string;
  inputsHash: string;
  moduleHash: string | null;
  circuitId: string | null;
  nodePublicKey: string;
  /** As of the lease: its result alone decides the task. When false: a quorum run (see RunResultService.quorumResult). */
  completesAlone: boolean;
}

/**
 * The runs this replica leased, remembered until their result comes (or, bounded, the oldest are forgotten), so
 * that the common result can check its signature without reading the run back (RunResultService.soloCompletion).
 * Only facts that never change for a run are kept; the node's key can change, so the result's write re-checks
 * it, with everything else that can change (lease, fence, the task still open). A result that finds nothing
 * here — another replica leased the run, a restart, a repeat — reads the run as before.
 */
export class LeasedRuns {
  private readonly facts = new Map<string, LeasedRunFacts>();

  constructor(private readonly capacity = LEASED_RUNS_REMEMBERED) {}

  remember(nodeId: string, runs: readonly ClaimedRun[]): void {
    for (const run of runs) {
      // zk_proof results are never completed without their proof's verification: nothing to spare there.
      if (run.nodePublicKey === null || run.taskType === 'zk_proof') continue;
      this.facts.delete(run.runId);
      this.facts.set(run.runId, {
        runId: run.runId,
        taskId: run.taskId,
        nodeId,
        fence: run.fence,
        taskType: run.taskType,
        inputsHash: run.inputsHash,
        moduleHash: run.moduleId,
        circuitId: run.circuitId,
        nodePublicKey: run.nodePublicKey,
        completesAlone: run.completesAlone,
      });
      // A Map iterates in insertion order: the first key is the oldest.
      if (this.facts.size > this.capacity) this.facts.delete(this.facts.keys().next().value as string);
    }
  }

  /** The run's facts, forgotten as they are handed out: a result is taken once. */
  take(runId: string): LeasedRunFacts | undefined {
    const facts = this.facts.get(runId);
    if (facts) this.facts.delete(runId);
    return facts;
  }

  get size(): number {
    return this.facts.size;
  }
}
