import { PROGRAM_FAULT_OUTCOMES } from '../common/runs/run-outcomes';

/** What the database says about the nodes a pending task could run on (TasksRepository.waitFacts). */
export interface WaitFacts {
  requireGpu: boolean;
  /** Online, live compute nodes. */
  online: number;
  /** Of those, the ones whose claims are served: not quarantined, and with a public key to sign results. */
  claiming: number;
  /** Of those, the ones with a GPU when the task needs one (else all). */
  withGpu: number;
  /** Of those, the ones meeting the task's CPU and memory floors. */
  capable: number;
  /** Of those, the ones that have not run this task yet (distinct nodes per task). */
  fresh: number;
  /** Of those capable, the ones whose run of it failed or lost its lease less than a lease ago: they may retry then. */
  againLater: number;
  /** Of those, the ones a quorum task may still take: of an owner with no live or succeeded run of it (nor two faults). */
  freshOwner: number;
  /** The task needs a quorum (min_nodes > 1): its runs must come from nodes of distinct owners. */
  quorum: boolean;
  /** Runs of the task leased now (a running quorum task with none is waiting for its next node). */
  leased: number;
  /** The task is in its retry backoff after a failed run. */
  backingOff: boolean;
  /** The outcome of the task's latest failed run, if any. */
  lastFailure: string | null;
}

export const WAIT_REASONS = {
  noComputeNode: 'no online compute node',
  noClaimingNode:
    'no online compute node may take work: each is quarantined or was registered without a public key',
  noGpuNode: 'no online node with a GPU',
  noCapableNode: 'no online node with the required CPU cores and memory',
  noFreshNode: 'every capable online node has already run this task',
  ranLately:
    'every capable online node ran this task lately: one may run it again a lease after its run ended',
  /** Appended for a quorum task: one run in, it is not done, and a reader would otherwise not see why. */
  quorumNeedsNode: 'its quorum needs a run on another node, of another owner',
  noOtherOwner:
    'its quorum needs a node of another owner: every capable online node belongs to an owner that has run it or whose nodes ended two runs of it (failed, lost, refused or handed back)',
  backingOff: 'retrying after a failed run',
  waiting: 'waiting for a free node',
} as const;

/** Why a pending task waits, most fundamental cause first. */
export function waitReason(facts: WaitFacts): string {
  if (facts.online === 0) return WAIT_REASONS.noComputeNode;
  // Their claims are refused (node_quarantined, no_public_key): "waiting for a free node" would wait forever.
  if (facts.claiming === 0) return WAIT_REASONS.noClaimingNode;
  if (facts.requireGpu && facts.withGpu === 0) return WAIT_REASONS.noGpuNode;
  if (facts.capable === 0) return WAIT_REASONS.noCapableNode;
  if (facts.fresh === 0 && facts.againLater > 0) {
    const fault = facts.lastFailure;
    // The pinned rule: a task fault fails the task only once another node reports it too (one node's trap
    // may be its own broken runtime); the same node retrying it spends its attempts instead. Say so.
    if (fault !== null && (PROGRAM_FAULT_OUTCOMES as readonly string[]).includes(fault)) {
      return `${WAIT_REASONS.ranLately}: its ${fault} fails it as unexecutable once another node reports the same`;
    }
    return WAIT_REASONS.ranLately;
  }
  if (facts.fresh === 0) {
    return facts.quorum
      ? `${WAIT_REASONS.noFreshNode}: ${WAIT_REASONS.quorumNeedsNode}`
      : WAIT_REASONS.noFreshNode;
  }
  if (facts.quorum && facts.freshOwner === 0) return WAIT_REASONS.noOtherOwner;
  if (facts.backingOff) return WAIT_REASONS.backingOff;
  return WAIT_REASONS.waiting;
}
