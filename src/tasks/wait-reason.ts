/** What the database says about the nodes a pending task could run on (TasksRepository.waitFacts). */
export interface WaitFacts {
  requireGpu: boolean;
  /** Online, live compute nodes. */
  online: number;
  /** Of those, the ones with a GPU when the task needs one (else all). */
  withGpu: number;
  /** Of those, the ones meeting the task's CPU and memory floors. */
  capable: number;
  /** Of those, the ones that have not run this task yet (distinct nodes per task). */
  fresh: number;
  /** The task is in its retry backoff after a failed run. */
  backingOff: boolean;
}

export const WAIT_REASONS = {
  noComputeNode: 'no online compute node',
  noGpuNode: 'no online node with a GPU',
  noCapableNode: 'no online node with the required CPU cores and memory',
  noFreshNode: 'every capable online node has already run this task',
  backingOff: 'retrying after a failed run',
  waiting: 'waiting for a free node',
} as const;

/** Why a pending task waits, most fundamental cause first. */
export function waitReason(facts: WaitFacts): string {
  if (facts.online === 0) return WAIT_REASONS.noComputeNode;
  if (facts.requireGpu && facts.withGpu === 0) return WAIT_REASONS.noGpuNode;
  if (facts.capable === 0) return WAIT_REASONS.noCapableNode;
  if (facts.fresh === 0) return WAIT_REASONS.noFreshNode;
  if (facts.backingOff) return WAIT_REASONS.backingOff;
  return WAIT_REASONS.waiting;
}
