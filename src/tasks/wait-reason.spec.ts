import { WAIT_REASONS, WaitFacts, waitReason } from './wait-reason';

describe('waitReason', () => {
  const ready: WaitFacts = {
    requireGpu: false,
    online: 3,
    claiming: 3,
    withGpu: 3,
    capable: 3,
    fresh: 3,
    againLater: 0,
    freshOwner: 3,
    quorum: false,
    leased: 0,
    backingOff: false,
    lastFailure: null,
  };

  it.each<[string, Partial<WaitFacts>, string]>([
    ['capable nodes exist', {}, WAIT_REASONS.waiting],
    [
      'no node is online',
      { online: 0, claiming: 0, withGpu: 0, capable: 0, fresh: 0 },
      WAIT_REASONS.noComputeNode,
    ],
    [
      'every online node is quarantined or has no public key',
      { claiming: 0, withGpu: 0, capable: 0, fresh: 0 },
      WAIT_REASONS.noClaimingNode,
    ],
    [
      'a GPU is needed and none is online',
      { requireGpu: true, withGpu: 0, capable: 0, fresh: 0 },
      WAIT_REASONS.noGpuNode,
    ],
    ['no GPU needed: a zero GPU count is no reason', { withGpu: 0 }, WAIT_REASONS.waiting],
    ['floors unmet', { capable: 0, fresh: 0 }, WAIT_REASONS.noCapableNode],
    ['every capable node ran it', { fresh: 0 }, WAIT_REASONS.noFreshNode],
    [
      'every capable node ran it lately, the last one trapped: it may retry a lease later',
      { fresh: 0, againLater: 1, lastFailure: 'trap' },
      `${WAIT_REASONS.ranLately}: its trap fails it as unexecutable once another node reports the same`,
    ],
    // A node fault is not the task's: no confirmation is awaited.
    [
      'every capable node ran it lately, the last one timed out',
      { fresh: 0, againLater: 1, lastFailure: 'timeout' },
      WAIT_REASONS.ranLately,
    ],
    [
      'a trap on a task every capable node holds or finished: no retry to announce',
      { fresh: 0, againLater: 0, lastFailure: 'trap' },
      WAIT_REASONS.noFreshNode,
    ],
    [
      'a trap with fresh nodes left: they are simply waited for',
      { lastFailure: 'trap' },
      WAIT_REASONS.waiting,
    ],
    ['in backoff', { backingOff: true }, WAIT_REASONS.backingOff],
    [
      'a quorum whose every fresh node is of an owner that ran it',
      { quorum: true, freshOwner: 0 },
      WAIT_REASONS.noOtherOwner,
    ],
    ['owners are no reason for a task without a quorum', { freshOwner: 0 }, WAIT_REASONS.waiting],
    [
      'a quorum task every capable node has run (a one-node setup): says what the quorum still needs',
      { quorum: true, fresh: 0, freshOwner: 0 },
      'every capable online node has already run this task: its quorum needs a run on another node, of another owner',
    ],
    ['no node beats backoff', { online: 0, backingOff: true }, WAIT_REASONS.noComputeNode],
  ])('%s', (_case, patch, reason) => {
    expect(waitReason({ ...ready, ...patch })).toBe(reason);
  });
});
