/** The longest long poll the agent asks for (a third of the lease when that is shorter: see answerSlackMs). */
const MAX_CLAIM_WAIT_MS = 20_000;
/** The most the agent waits past a claim's wait for its answer (see answerSlackMs). */
const MAX_ANSWER_SLACK_MS = 15_000;

/** How long a claim waits for work on the server (long poll), for a lease of `leaseMs`. */
export function claimWaitMs(leaseMs: number): number {
  // Whole milliseconds: wait_ms is an integer on the wire.
  return Math.min(MAX_CLAIM_WAIT_MS, Math.round(leaseMs / 3));
}

/**
 * How long past the moment the server may have answered the agent waits for an answer that leases runs (a
 * claim, a result carrying Claim-Next) before retrying it with the same Idempotency-Key. A lease counts from
 * the answer, and only a retry that reaches the server within it gets (and renews) what a lost answer leased:
 * waiting the transport's usual 15–30 s, as long as the default 30 s lease, lost every run of a stalled
 * answer and charged them to the node. A third of the lease, as for a heartbeat: with a claim's wait of a
 * third, the retry is due two thirds of a lease after the earliest answer, and its backoff has the rest.
 */
export function answerSlackMs(leaseMs: number): number {
  // Whole milliseconds: AbortSignal.timeout throws on a fraction.
  return Math.min(MAX_ANSWER_SLACK_MS, Math.round(leaseMs / 3));
}
