import { retryWaitMs, Sleeps } from './pacing';
import type { Counters } from './reporter';
import { LEASE_LOST } from './run-events';
import { AgentTransport, HeartbeatBody, retryAfterOf } from './transport';

/** The heartbeat intervals a server may ask for (NODE_HEARTBEAT_INTERVAL_SECS). */
const MIN_INTERVAL_SECS = 1;
const MAX_INTERVAL_SECS = 3600;
/** An idle beat's answer is waited for the server's interval, within these bounds (the transport's own is 30 s). */
const MIN_IDLE_TIMEOUT_MS = 5_000;
const MAX_IDLE_TIMEOUT_MS = 30_000;

export interface HeartbeatSetup {
  transport: AgentTransport;
  version: string;
  /** Machine telemetry sent with each heartbeat. */
  telemetry?: () => Pick<HeartbeatBody, 'cpu_usage' | 'memory_usage'>;
  counters: Counters;
  random: () => number;
  sleeps: Sleeps;
  /** The leases to renew: the runs still the agent's. */
  leases(): { run_id: string; fence: string }[];
  /** While holding leases a third of the lease (so one lost beat is survivable), else null. */
  renewWithinMs(): number | null;
  /**
   * The server's answer: the run is no longer the agent's (`lease lost`; for a run whose result is being sent,
   * the result's retry tells whether it was accepted) or its task was `task cancelled`.
   */
  drop(runId: string, reason: string): void;
  /** A beat failed; the next is tried in `retryMs` (unless the wait is recomputed meanwhile). */
  noteFailure(error: unknown, retryMs: number): void;
  /** The server answered a beat. */
  noteAnswered(): void;
  /** The most runs the server leases to this node, as the last beat's answer said. */
  noteMaxRuns(maxConcurrentRuns: number): void;
}

/**
 * The agent's heartbeats: at the server's interval (at most `renewWithinMs` while holding leases), naming the
 * leases it holds with telemetry and the last beat's round trip; failures retried with backoff.
 */
export class Heartbeats {
  private intervalMs = 15_000;
  private latencyMs: number | undefined;
  /** The loop's wait, woken to be recomputed. */
  private readonly wakers = new Set<() => void>();
  /** Aborted once the agent stopped: a beat a hung server holds is not waited for. */
  private readonly inFlight = new AbortController();

  constructor(private readonly setup: HeartbeatSetup) {}

  /** The agent stopped (after its grace period, when heartbeats no longer renew anything): abort a beat. */
  abortInFlight(): void {
    this.inFlight.abort();
  }

  /** Something changed the next beat's time (a lease taken while idle): the wait is recomputed. */
  wake(): void {
    for (const wake of this.wakers) wake();
  }

  /**
   * Beats when the next one is due, while `running()`. The wait is recomputed whenever something changes it (a
   * lease taken while idle shortens it from the server's interval to a third of the lease), so a run claimed
   * in the middle of a long idle wait is still renewed in time.
   */
  async loop(running: () => boolean): Promise<void> {
    let failures = 0;
    let retryAfterMs: number | null = null;
    let lastAttempt = performance.now();
    let jitter = this.setup.random();
    while (running()) {
      const gap = failures > 0 ? this.retryMs(failures, jitter, retryAfterMs) : this.gapMs(jitter);
      const wait = lastAttempt + gap - performance.now();
      if (wait > 0) {
        await this.setup.sleeps.sleep(wait, this.wakers);
        continue;
      }
      lastAttempt = performance.now();
      jitter = this.setup.random();
      try {
        await this.beat(this.inFlight.signal);
        failures = 0;
      } catch (error) {
        if (!running()) break; // stopped while it was in flight (aborted): nothing to retry or report
        failures++;
        retryAfterMs = retryAfterOf(error);
        this.setup.noteFailure(error, this.retryMs(failures, jitter, retryAfterMs));
      }
    }
  }

  async beat(stopped?: AbortSignal): Promise<void> {
    const runs = this.setup.leases();
    const body: HeartbeatBody = {
      ...this.setup.telemetry?.(),
      active_tasks: runs.length,
      agent_version: this.setup.version,
      runs,
    };
    if (this.latencyMs !== undefined) body.network_latency_ms = Math.min(600_000, this.latencyMs);
    const started = performance.now();
    // While holding leases, a beat that gets no answer is given up within a third of the lease, so that its
    // retry still renews them: waiting the transport's 30 s for one hung beat let every lease run out. Idle,
    // within the server's interval (5–30 s): one hung beat (a paused replica behind a balancer) must not keep
    // the node silent past NODE_OFFLINE_AFTER_SECS, nor leave runs claimed meanwhile unrenewed for 30 s.
    const timeoutMs =
      this.setup.renewWithinMs() ??
      Math.min(MAX_IDLE_TIMEOUT_MS, Math.max(MIN_IDLE_TIMEOUT_MS, this.intervalMs));
    const answer = await this.setup.transport.heartbeat(body, stopped, timeoutMs);
    this.latencyMs = Math.round(performance.now() - started);
    this.setup.noteAnswered();
    this.setup.counters.heartbeats++;
    const secs = answer.heartbeat_interval_secs;
    // Held to NODE_HEARTBEAT_INTERVAL_SECS' range: past 2^31 ms a timer fires at once (a beat every millisecond).
    if (typeof secs === 'number' && secs > 0)
      this.intervalMs = Math.min(MAX_INTERVAL_SECS, Math.max(MIN_INTERVAL_SECS, secs)) * 1000;
    const maxRuns = answer.max_concurrent_runs;
    if (typeof maxRuns === 'number' && Number.isInteger(maxRuns) && maxRuns > 0)
      this.setup.noteMaxRuns(maxRuns);
    for (const runId of answer.leases?.lost ?? []) this.setup.drop(runId, LEASE_LOST);
    for (const runId of answer.leases?.cancel ?? []) this.setup.drop(runId, 'task cancelled');
  }

  /**
   * The backoff is bounded by the server's interval even when idle (and everything by a third of the lease while
   * holding leases): a node whose beats failed for a while (the database down) must be back before
   * NODE_OFFLINE_AFTER_SECS, which is longer than the interval, not at the 30 s the backoff reaches. That is no
   * more often than beating at all. A longer `Retry-After` is still waited for while idle.
   */
  private retryMs(failures: number, jitter: number, retryAfterMs: number | null): number {
    const within = this.setup.renewWithinMs();
    return retryWaitMs(failures, jitter, retryAfterMs, within ?? Infinity, within ?? this.intervalMs);
  }

  /** The server's interval, within `renewWithinMs` while holding leases, jittered ±10 %. */
  private gapMs(jitter: number): number {
    const within = this.setup.renewWithinMs();
    const interval = within === null ? this.intervalMs : Math.min(this.intervalMs, within);
    return interval * (0.9 + 0.2 * jitter);
  }
}
