/** The node protocol as the agent sees it; HTTP for a real node, direct calls for the embedded one. */

export interface RunLimits {
  timeout_ms: number;
  memory_mb: number;
  output_bytes: number;
}

export interface RunSpec {
  module_id: string | null;
  module_url: string | null;
  inputs: unknown;
  args: string[];
  deterministic: boolean;
  limits: RunLimits;
  circuit_id?: string;
}

export interface LeasedRun {
  run_id: string;
  task_id: string;
  task_type: string;
  fence: string;
  lease_expires_at: string;
  spec: RunSpec;
}

export interface HeartbeatBody {
  cpu_usage?: number;
  memory_usage?: number;
  network_latency_ms?: number;
  active_tasks: number;
  agent_version: string;
  runs: { run_id: string; fence: string }[];
}

export interface LeaseReport {
  renewed: string[];
  lost: string[];
  cancel: string[];
}

export interface HeartbeatAnswer {
  heartbeat_interval_secs: number;
  node_status: string;
  /** Most runs the server leases to one node (absent from servers that do not say). */
  max_concurrent_runs?: number;
  leases?: LeaseReport;
}

export interface ResultBody {
  fence: string;
  outcome: string;
  output?: unknown;
  output_hash: string;
  stdout?: string;
  stderr?: string;
  exit_code?: number;
  execution_time_ms: number;
  /** zk_proof runs: what the server verifies against the task's circuit and statement. */
  proof?: unknown;
  public_signals?: unknown;
  signature: string;
}

export type SubmitAnswer =
  /**
   * `runStatus`: succeeded, failed, or rejected (a proof that did not verify). `next`: the runs leased by the
   * claim the result carried; undefined when the server does not offer it.
   */
  | { accepted: true; taskStatus: string; runStatus?: string; next?: LeasedRun[] }
  /** 409 lease_lost: the run is no longer this node's; dropped quietly. */
  | { accepted: false; reason: 'lease_lost' };

export interface CircuitInfo {
  circuit_id: string;
  protocol: string;
  wasm_sha256: string | null;
  zkey_sha256: string | null;
}

/**
 * Why a call failed. `retryable` ones (network errors, 5xx, 429) are retried with jittered backoff; the
 * others are answers (a 4xx) the agent acts on.
 */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status: number | null = null,
    readonly code: string | null = null,
    /** The server's `Retry-After` (429, 503), in milliseconds. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** The code of a TransportError for an answer larger than the agent reads (retryable, as a network error). */
export const ANSWER_TOO_LARGE = 'answer_too_large';

export const isAnswerTooLarge = (error: unknown): error is TransportError =>
  error instanceof TransportError && error.code === ANSWER_TOO_LARGE;

/** The `Retry-After` a failed call carried, if any. */
export const retryAfterOf = (error: unknown): number | null =>
  error instanceof TransportError ? error.retryAfterMs : null;

export interface AgentTransport {
  /**
   * `signal`: the agent has stopped and waits for nothing more (a hung server must not hold its exit).
   * `timeoutMs`: how long to wait for the answer (over HTTP; the transport's own bound when absent).
   */
  heartbeat(body: HeartbeatBody, signal?: AbortSignal, timeoutMs?: number): Promise<HeartbeatAnswer>;
  /**
   * Long poll: resolves with the runs leased (possibly none) within `waitMs`, or early on `signal`. `slackMs`:
   * how long past `waitMs` to wait for the answer before giving it up (over HTTP; its own default when absent).
   */
  claim(max: number, waitMs: number, signal: AbortSignal, slackMs?: number): Promise<LeasedRun[]>;
  /**
   * `claimNext`: once the result is accepted, lease up to that many runs in the same call (no waiting). A
   * retry of the same submit is the same claim (it gets the runs leased by an answer that was lost).
   * `signal`: the agent is stopping and gives the answer up (a hung server must not hold its exit).
   * `timeoutMs`: how long to wait for the answer (over HTTP; the transport's own bound when absent).
   */
  submit(
    runId: string,
    body: ResultBody,
    claimNext?: number,
    signal?: AbortSignal,
    timeoutMs?: number,
  ): Promise<SubmitAnswer>;
  /**
   * Hands back a run this node will not finish (it is stopping): its lease ends and the server queues the task
   * again at once. `signal` bounds the wait; a failure leaves the lease to expire, as before.
   */
  release(runId: string, fence: string, signal: AbortSignal): Promise<void>;
  /** The bytes of a stored module (the caller checks them against the id). */
  module(moduleId: string): Promise<Uint8Array>;
  circuit(circuitId: string): Promise<CircuitInfo>;
  circuitArtifact(circuitId: string, kind: 'wasm' | 'zkey'): Promise<Uint8Array>;
  /** The server's clock now, as far as its answers tell (a lease ends on it); absent: the agent's own clock. */
  serverNow?(): number;
}
