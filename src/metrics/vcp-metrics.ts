import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  CLAIM_BUCKETS,
  HTTP_BUCKETS,
  LONG_HTTP_BUCKETS,
  PROOF_BUCKETS,
  WASM_BUCKETS,
} from './metric-buckets';
import { OutageCredits, OutageMetrics } from './outage-metrics';
import { RateLimitStorageState, registerRateLimitStorageMetrics } from './rate-limit-storage.metrics';
import { RATE_TIERS, RateTier } from '../common/auth/rate-tiers';
import { UNMATCHED_ROUTE } from '../common/http/route-templates';
import { RUN_OUTCOMES, RunOutcome } from '../common/runs/run-outcomes';
import { FINAL_TASK_STATUSES, TASK_TYPES } from '../common/tasks/task-kinds';
import {
  AUTH_EVENTS,
  AuthEvent,
  CLAIM_RESULTS,
  ClaimResult,
  LEASE_LOSS_CAUSES,
  LeaseLossCause,
  NODE_STATUS_LABELS,
  RETENTION_TABLES,
  RetentionTable,
  RUN_VERDICTS,
  RunVerdict,
} from './metric-labels';

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

interface HttpSeries {
  labels: Record<'method' | 'route' | 'status_code', string>;
  /** Made on first use, so a series of only long requests adds none to http_request_duration (and back). */
  duration?: ReturnType<Histogram['labels']>;
  longDuration?: ReturnType<Histogram['labels']>;
  count: ReturnType<Counter['labels']>;
  errors: ReturnType<Counter['labels']> | null;
}

/**
 * Every metric the service exports, defined here and only here (or in the parts built here: outage-metrics.ts,
 * rate-limit-storage.metrics.ts); modules call the methods below where the event happens. A metric is added with the module that feeds it, so a scrape never shows a series that stays
 * at zero for want of code. Label values come from closed sets in code (./metric-labels.ts and the sets in
 * common/), never from a request, so the number of series is bounded whatever clients send.
 */
@Injectable()
export class VcpMetrics {
  private readonly httpDuration: Histogram;
  private readonly httpLongDuration: Histogram;
  private readonly httpCount: Counter;
  private readonly httpErrors: Counter;
  /** Label children by "method route status": the set is bounded by the routes, so this map is too. */
  private readonly httpSeries = new Map<string, HttpSeries>();
  private readonly authEvents: Counter;
  private readonly rateLimited: Counter;
  private readonly nodes: Gauge;
  private readonly nodeHeartbeats: Counter;
  private readonly nodeOfflineTransitions: Counter;
  private readonly nodeOnlineTransitions: Counter;
  private readonly tasksSubmitted: Counter;
  private readonly taskRuns: Counter;
  private readonly tasksFinished: Counter;
  private readonly runsVerifiedTotal: Counter;
  private readonly quorumMismatchesTotal: Counter;
  private readonly claimDuration: Histogram;
  private readonly leasesExpired: Counter;
  private readonly queueDepth: Gauge;
  private readonly oldestQueuedAge: Gauge;
  private readonly wasmDuration: Histogram;
  private readonly proofDuration: Histogram;
  private readonly retentionPruned: Counter;
  private readonly outages: OutageMetrics;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    const httpLabels = ['method', 'route', 'status_code'];
    this.httpDuration = new Histogram({
      name: 'http_request_duration',
      help: 'HTTP request duration in seconds, from arrival to the last byte of the response',
      labelNames: httpLabels,
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.httpLongDuration = new Histogram({
      name: 'http_long_request_duration_seconds',
      help:
        'Duration in seconds of long polls (a claim with wait_ms) and event streams, from arrival to the last ' +
        'byte or the client closing; kept out of http_request_duration',
      labelNames: httpLabels,
      buckets: LONG_HTTP_BUCKETS,
      registers,
    });
    this.httpCount = new Counter({
      name: 'http_request_count',
      help: 'HTTP requests answered, by route template and status',
      labelNames: httpLabels,
      registers,
    });
    this.httpErrors = new Counter({
      name: 'http_errors',
      help: 'HTTP responses with status 400 or above',
      labelNames: httpLabels,
      registers,
    });
    this.authEvents = new Counter({
      name: 'auth_events_total',
      help: 'Authentication events: logins, registrations, refreshes, refresh-token reuse, API key and access token failures, password changes and failed password changes',
      labelNames: ['event'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'rate_limited_total',
      help: 'Requests refused with 429, by rate tier',
      labelNames: ['tier'],
      registers,
    });
    this.nodes = new Gauge({
      name: 'vcp_nodes',
      help:
        'Live (not deleted) nodes by status, cluster-wide, as of this replica’s last liveness sweep; every ' +
        'replica exports the same count: aggregate with max(), not sum()',
      labelNames: ['status'],
      registers,
    });
    this.nodeHeartbeats = new Counter({
      name: 'vcp_node_heartbeats_total',
      help: 'Node heartbeats recorded by this replica',
      registers,
    });
    this.nodeOfflineTransitions = new Counter({
      name: 'vcp_node_offline_transitions_total',
      help: 'Nodes this replica’s sweep marked offline after NODE_OFFLINE_AFTER_SECS of silence',
      registers,
    });
    this.nodeOnlineTransitions = new Counter({
      name: 'vcp_node_online_transitions_total',
      help: 'Offline nodes that came back online with a heartbeat on this replica',
      registers,
    });
    this.tasksSubmitted = new Counter({
      name: 'vcp_tasks_submitted_total',
      help: 'Tasks accepted, by task type',
      labelNames: ['task_type'],
      registers,
    });
    this.taskRuns = new Counter({
      name: 'vcp_task_runs_total',
      help: 'Task runs finished on this replica, by outcome (lease_expired from the lease sweep)',
      labelNames: ['outcome'],
      registers,
    });
    this.runsVerifiedTotal = new Counter({
      name: 'vcp_runs_verified_total',
      help: 'Runs compared with an accepted output (quorum or proof), by verdict (valid, invalid)',
      labelNames: ['verdict'],
      registers,
    });
    this.quorumMismatchesTotal = new Counter({
      name: 'vcp_quorum_mismatches_total',
      help: 'Times every sought run of a quorum task reported and no output reached the quorum',
      registers,
    });
    this.tasksFinished = new Counter({
      name: 'vcp_tasks_finished_total',
      help: 'Tasks that reached a final status on this replica, by task type and status',
      labelNames: ['task_type', 'status'],
      registers,
    });
    this.claimDuration = new Histogram({
      name: 'vcp_task_claim_duration_seconds',
      help: 'Time of one claim statement (not the long poll around it), by whether it leased anything or answered a repeat',
      labelNames: ['result'],
      buckets: CLAIM_BUCKETS,
      registers,
    });
    this.leasesExpired = new Counter({
      name: 'vcp_task_leases_expired_total',
      help: 'Leases that ended without a result on this replica, by cause (timeout, or the node lost)',
      labelNames: ['cause'],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'vcp_tasks_queued',
      help:
        'Tasks waiting for a node (status pending), cluster-wide, as of this replica’s last lease sweep; every ' +
        'replica exports the same count: aggregate with max(), not sum()',
      registers,
    });
    this.oldestQueuedAge = new Gauge({
      name: 'vcp_tasks_queued_oldest_age_seconds',
      help:
        'Seconds since the oldest pending task was submitted (0 with none pending), cluster-wide, as of this ' +
        'replica’s last lease sweep; every replica exports the same value: aggregate with max(), not sum()',
      registers,
    });
    this.wasmDuration = new Histogram({
      name: 'wasm_execution_duration_seconds',
      help: 'WebAssembly execution time in seconds, by runtime and outcome',
      labelNames: ['runtime', 'outcome'],
      buckets: WASM_BUCKETS,
      registers,
    });
    this.proofDuration = new Histogram({
      name: 'proof_verification_duration_seconds',
      help: 'Proof verification time in seconds, by protocol and result (true, false, error, timeout)',
      labelNames: ['protocol', 'valid'],
      buckets: PROOF_BUCKETS,
      registers,
    });
    this.retentionPruned = new Counter({
      name: 'vcp_retention_rows_pruned_total',
      help: 'Rows this replica’s retention sweep deleted, by table',
      labelNames: ['table'],
      registers,
    });
    this.outages = new OutageMetrics(registry);
    // Series of closed label sets start at 0, so the first event is an increase() and not a new series
    // (Prometheus sees no increase in a series' first sample: a one-off lease loss would never alert). The
    // claim histogram too: increase() of its _count is how a first `replayed` claim is seen.
    for (const event of AUTH_EVENTS) this.authEvents.inc({ event }, 0);
    for (const tier of RATE_TIERS) this.rateLimited.inc({ tier }, 0);
    for (const cause of LEASE_LOSS_CAUSES) this.leasesExpired.inc({ cause }, 0);
    for (const verdict of RUN_VERDICTS) this.runsVerifiedTotal.inc({ verdict }, 0);
    for (const outcome of RUN_OUTCOMES) this.taskRuns.inc({ outcome }, 0);
    for (const task_type of TASK_TYPES) {
      this.tasksSubmitted.inc({ task_type }, 0);
      for (const status of FINAL_TASK_STATUSES) this.tasksFinished.inc({ task_type, status }, 0);
    }
    for (const result of CLAIM_RESULTS) this.claimDuration.zero({ result });
    for (const table of RETENTION_TABLES) this.retentionPruned.inc({ table }, 0);
  }

  /**
   * `longLived`: a long poll or an event stream, whose duration is how long the client waited or listened:
   * observed in `http_long_request_duration_seconds`, so it does not bury the request latencies.
   */
  observeHttp(
    method: string,
    route: string | undefined,
    statusCode: number,
    seconds: number,
    longLived = false,
  ): void {
    const series = this.httpSeriesOf(method, route, statusCode);
    if (longLived) (series.longDuration ??= this.httpLongDuration.labels(series.labels)).observe(seconds);
    else (series.duration ??= this.httpDuration.labels(series.labels)).observe(seconds);
    series.count.inc();
    series.errors?.inc();
  }

  /**
   * A response whose duration nobody measured (a request Node's HTTP parser refused, answered before any hook
   * ran): counted in `http_request_count` and `http_errors`, not observed in the duration histogram.
   */
  countHttp(method: string | undefined, route: string | undefined, statusCode: number): void {
    const series = this.httpSeriesOf(method ?? 'OTHER', route, statusCode);
    series.count.inc();
    series.errors?.inc();
  }

  private httpSeriesOf(method: string, route: string | undefined, statusCode: number) {
    const methodLabel = HTTP_METHODS.has(method) ? method : 'OTHER';
    const routeLabel = route ?? UNMATCHED_ROUTE;
    const key = `${methodLabel} ${routeLabel} ${statusCode}`;
    let series = this.httpSeries.get(key);
    if (!series) {
      const labels = { method: methodLabel, route: routeLabel, status_code: String(statusCode) };
      series = {
        labels,
        count: this.httpCount.labels(labels),
        errors: statusCode >= 400 ? this.httpErrors.labels(labels) : null,
      };
      this.httpSeries.set(key, series);
    }
    return series;
  }

  authEvent(event: AuthEvent): void {
    this.authEvents.inc({ event });
  }

  rateLimitedRequest(tier: RateTier): void {
    this.rateLimited.inc({ tier });
  }

  /** Every status of the closed set is set (0 when absent), so a status that empties does not keep its value. */
  setNodeCounts(counts: ReadonlyMap<string, number>): void {
    for (const status of NODE_STATUS_LABELS) this.nodes.set({ status }, counts.get(status) ?? 0);
  }

  nodeHeartbeat(): void {
    this.nodeHeartbeats.inc();
  }

  nodesWentOffline(count: number): void {
    this.nodeOfflineTransitions.inc(count);
  }

  nodeBackOnline(): void {
    this.nodeOnlineTransitions.inc();
  }

  /** `taskType` is a validated enum value (closed set). */
  taskSubmitted(taskType: string): void {
    this.tasksSubmitted.inc({ task_type: taskType });
  }

  taskRunFinished(outcome: RunOutcome): void {
    this.taskRuns.inc({ outcome });
  }

  runsVerified(verdict: RunVerdict, count = 1): void {
    if (count > 0) this.runsVerifiedTotal.inc({ verdict }, count);
  }

  quorumMismatch(): void {
    this.quorumMismatchesTotal.inc();
  }

  /** `taskType` and `status` come from the task's closed sets (completed, failed, cancelled). */
  taskFinished(taskType: string, status: string, count = 1): void {
    if (count > 0) this.tasksFinished.inc({ task_type: taskType, status }, count);
  }

  observeClaim(result: ClaimResult, seconds: number): void {
    this.claimDuration.observe({ result }, seconds);
  }

  leaseExpired(cause: LeaseLossCause, count = 1): void {
    if (count > 0) this.leasesExpired.inc({ cause }, count);
  }

  /** Pending tasks and the oldest one's age, by this replica's last lease sweep (never a query at scrape time). */
  setQueueDepth(pending: number, oldestAgeSecs: number): void {
    this.queueDepth.set(pending);
    this.oldestQueuedAge.set(oldestAgeSecs);
  }

  observeWasmExecution(runtime: string, outcome: string, seconds: number): void {
    this.wasmDuration.observe({ runtime, outcome }, seconds);
  }

  /** `valid` is "error" when the verifier failed, "timeout" when it ran past PROOF_VERIFY_TIMEOUT_MS. */
  observeProofVerification(
    protocol: string,
    valid: 'true' | 'false' | 'error' | 'timeout',
    seconds: number,
  ): void {
    this.proofDuration.observe({ protocol, valid }, seconds);
  }

  /** Starts a proof series at 0 (its owner knows the closed set): a first error is then an increase(). */
  zeroProofVerification(protocol: string, valid: 'true' | 'false' | 'error' | 'timeout'): void {
    this.proofDuration.zero({ protocol, valid });
  }

  rowsPruned(table: RetentionTable, count: number): void {
    if (count > 0) this.retentionPruned.inc({ table }, count);
  }

  /** The rate limiter's Redis outage fallback, read from the storage when Prometheus scrapes. */
  trackRateLimitStorage(storage: RateLimitStorageState): void {
    registerRateLimitStorageMetrics(this.registry, storage);
  }

  /** The clock row's record of every outage credit, as a tick of this replica read it back (cluster-wide). */
  controlPlaneClockMoved(soFar: OutageCredits): void {
    this.outages.moved(soFar);
  }
}
