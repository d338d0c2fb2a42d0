/**
 * How runs end: closed sets shared by the WASM engine, the scheduler and the metrics (which start a series
 * for each value at 0), so they live here rather than in any one of them.
 */

/** What one WASM run ended with. */
export const OUTCOMES = [
  'ok',
  'exit_nonzero',
  'trap',
  'timeout',
  'memory_limit',
  'output_limit',
  'invalid_module',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * Outcomes that are the program's own fault, the same on any node (unlike a timeout or the output cap, which
 * a slower or differently configured node may meet where another would not).
 */
export const PROGRAM_FAULT_OUTCOMES: readonly Outcome[] = [
  'trap',
  'exit_nonzero',
  'invalid_module',
  'memory_limit',
];

/** The WASM engine's outcomes, plus `error` (the node could not run it at all). */
export const RESULT_OUTCOMES = [...OUTCOMES, 'error'] as const;
export type ResultOutcome = (typeof RESULT_OUTCOMES)[number];

/**
 * Every way a run ends (`task_runs.outcome`, `vcp_task_runs_total{outcome}`): what its node reported, or what
 * the server decided — a false proof, a lease run out or lost with its node, a result refused unread (bad
 * signature, unreadable body), runs a claim leased that never reached the node, runs the node handed back.
 */
export const RUN_OUTCOMES = [
  ...RESULT_OUTCOMES,
  'proof_invalid',
  'lease_expired',
  'node_lost',
  'signature_invalid',
  'result_invalid',
  'claim_abandoned',
  'released',
] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];
