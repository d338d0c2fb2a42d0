/** Histogram buckets of VcpMetrics, in seconds. */

/** An API's latencies: 1 ms to 10 s. */
export const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Long polls wait up to 25 s (`wait_ms`); event streams stay open for seconds to hours. */
export const LONG_HTTP_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 15, 20, 25, 30, 60, 300, 900, 1800, 3600, 7200];
/**
 * WASM runs end by WASM_TIMEOUT_SECS (default 30 s, at most 3600 s): bounds up to the maximum, so a raised
 * limit's slow runs and timeouts land in finite buckets, not all in +Inf.
 */
export const WASM_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/**
 * Verifications end by PROOF_VERIFY_TIMEOUT_MS (default 10 s, at most 600 s): bounds on both sides of the
 * default and up to the maximum, so a timeout (observed at the budget or just past it) never shares the last
 * finite bucket with a slow verdict.
 */
export const PROOF_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 7.5, 10, 15, 30, 60, 120, 300, 600,
];

/** One claim statement: well under a millisecond on an idle database, seconds only under lock contention. */
export const CLAIM_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
