import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { WasmConfig } from '../wasm/wasm.config';
import { TaskEventSignal } from '../tasks/task-event-signal';
import { WorkSignal } from '../tasks/work-signal';
import type { ClaimRequestDto, ClaimResponseDto, LeasedRunDto } from './dto/claim.dto';
import { LeaseSweeper } from './lease-sweeper';
import { LeasedRuns } from './leased-runs';
import { ReputationRepository } from './reputation.repository';
import { RunRelease } from './run-release';
import { ClaimedRun, ClaimsRepository } from './claims.repository';
import { SchedulingConfig } from './scheduling.config';
import { ControlPlaneClock } from '../outages/control-plane-clock';

const UNIQUE_VIOLATION = '23505';
const DEADLOCK_DETECTED = '40P01';
/** Runs of one claim statement that lost a race to a concurrent claim of the same node (see claimNow). */
const MAX_CLAIM_ATTEMPTS = 8;

/**
 * Claims with long polling: try at once; with nothing to lease, wait for a wake-up (a submission or a
 * requeue) or the fallback poll, and try again until `wait_ms` has passed.
 *
 * A wake-up wakes one waiting claim — the one whose node has the best reputation (issue 18: better nodes get
 * work first), the longest-waiting among equals — not all of them: every woken claim is a database
 * statement, and on the embedded database they all queue on its one session, so waking eight idle nodes for
 * one new run made the winner wait behind seven empty claims. A woken claim that leased something passes the
 * wake-up on to the next waiter (there may be more work); one that found nothing ends the chain. A waiter the
 * chain does not reach (say a GPU node behind a CPU node that woke for a GPU task) still looks at its fallback
 * poll (SCHEDULER_FALLBACK_POLL_MS).
 */
@Injectable()
export class ClaimService implements OnModuleDestroy {
  private closing = false;
  /** Waiting claims and their node's reputation, in the order they started to wait (a Map keeps it). */
  private readonly stopWaiting = new Map<(byWakeUp?: boolean) => void, number>();
  /** Wake-ups that found no claim waiting (each claim compares it across its look for work). */
  private missedWakeUps = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly repository: ClaimsRepository,
    private readonly config: SchedulingConfig,
    private readonly wasmConfig: WasmConfig,
    private readonly signal: WorkSignal,
    private readonly events: TaskEventSignal,
    private readonly metrics: VcpMetrics,
    private readonly reputation: ReputationRepository,
    private readonly sweeper: LeaseSweeper,
    private readonly leased: LeasedRuns,
    private readonly release: RunRelease,
    private readonly outages: ControlPlaneClock,
  ) {
    this.unsubscribe = this.signal.subscribe(() => this.wakeOne());
  }

  onModuleDestroy(): void {
    this.closing = true;
    this.unsubscribe();
    for (const stop of this.stopWaiting.keys()) stop();
  }

  /** Claims waiting for work right now (each has looked once and found nothing). */
  get waiting(): number {
    return this.stopWaiting.size;
  }

  /**
   * null: nothing to do within `wait_ms` (204). `claimKey`: the claim's Idempotency-Key; a repeat while the
   * runs it leased are still leased to the node answers with those runs (see ClaimsRepository.claim).
   * `abandoned`: the caller is gone (its connection closed): the claim stops waiting and leases nothing more.
   */
  async claim(
    nodeId: string,
    dto: ClaimRequestDto,
    claimKey?: string,
    abandoned?: AbortSignal,
  ): Promise<ClaimResponseDto | null> {
    await this.outages.settled();
    const max = dto.max ?? 1;
    const waitMs = dto.wait_ms ?? 0;
    let expired = waitMs === 0;
    let wokenByWork = false;
    let wake: (() => void) | undefined;
    let score: number | undefined;
    const deadline = expired
      ? undefined
      : setTimeout(() => {
          expired = true;
          wake?.();
        }, waitMs);
    const leave = () => wake?.();
    abandoned?.addEventListener('abort', leave, { once: true });
    try {
      for (;;) {
        // Runs leased to a caller that left (an agent stopped or restarted mid-poll) would sit out their
        // lease and count as lost against its node; a wake-up it was given goes to the next waiter.
        if (abandoned?.aborted) {
          if (wokenByWork) this.wakeOne();
          return null;
        }
        const missedBefore = this.missedWakeUps;
        const claimed = await this.leaseNow(nodeId, max, claimKey ?? null);
        if (claimed.length > 0) {
          // The caller left while the statement ran: what it leased goes back at once, not to a closed socket.
          if (abandoned?.aborted) {
            await this.handBack(claimed);
            return null;
          }
          if (wokenByWork) this.wakeOne();
          return { runs: claimed.map((run) => this.toLeasedRun(run)) };
        }
        // Read once per poll, and only when there was nothing to lease: a quarantined node's claim leases
        // nothing (the claim statement skips it) and learns why here.
        score ??= await this.standing(nodeId);
        if (expired || this.closing) return null;
        // A wake-up that came while this claim was looking found no claim waiting: its work may have committed
        // after the look's snapshot, so look again now rather than at the fallback poll.
        if (this.missedWakeUps !== missedBefore) {
          wokenByWork = true;
          continue;
        }
        wokenByWork = await this.nextChance(score, (done) => (wake = done));
      }
    } finally {
      clearTimeout(deadline);
      abandoned?.removeEventListener('abort', leave);
    }
  }

  /**
   * The claim a result carries (`Claim-Next`): one look, no waiting. A quarantined node leases nothing (the
   * claim statement skips it) and its accepted result stays an acceptance: its next claim of its own learns why.
   * `callerGone`: whether the node's connection closed meanwhile (an agent killed while its result waited, on a
   * frozen database say): then nothing is leased, and what a claim leased as it left goes back at once
   * (`claim_abandoned`), as for a long poll, instead of waiting out its lease and costing an attempt.
   */
  async claimNext(
    nodeId: string,
    max: number,
    claimKey?: string,
    callerGone: () => boolean = () => false,
  ): Promise<LeasedRunDto[]> {
    if (callerGone()) return [];
    const claimed = await this.leaseNow(nodeId, max, claimKey ?? null);
    if (claimed.length === 0 || !callerGone()) return claimed.map((run) => this.toLeasedRun(run));
    await this.handBack(claimed);
    return [];
  }

  /**
   * Runs leased for a caller that is gone go back at once (`claim_abandoned`; see RunRelease.handBack), but not
   * one a retry of the claim (same Idempotency-Key) was answered with too.
   */
  private handBack(runs: ClaimedRun[]): Promise<void> {
    return this.release.handBack(runs);
  }

  /** One claim statement and what follows a lease: metrics, the sweeper's deadline, the result's facts, events. */
  private async leaseNow(nodeId: string, max: number, claimKey: string | null): Promise<ClaimedRun[]> {
    const started = performance.now();
    const claimed = await this.claimNow(nodeId, max, claimKey);
    // A repeat leased nothing: counted as `leased` it would inflate the lease rate the histogram is read for.
    const result = claimed.length === 0 ? 'empty' : claimed[0].replayed ? 'replayed' : 'leased';
    this.metrics.observeClaim(result, (performance.now() - started) / 1000);
    if (claimed.length === 0) return [];
    // The earliest: a lease ends at RUN_LEASE_SECS or its run's deadline, whichever comes first (per task).
    this.sweeper.leaseGranted(new Date(Math.min(...claimed.map((run) => run.leaseExpiresAt.getTime()))));
    this.leased.remember(nodeId, claimed);
    this.events.publish(...claimed.map((run) => run.taskId));
    return claimed;
  }

  /**
   * One claim: one statement, committing on its own. A unique violation means a concurrent claim of this node
   * took a lease slot this one counted as free (or, for a quorum task, a run for the same owner): this statement
   * rolled back whole and leased nothing, and runs again, now seeing the other's runs. The unique indexes are
   * also the last guard against leasing one task twice to a node.
   */
  private async claimNow(nodeId: string, max: number, claimKey: string | null): Promise<ClaimedRun[]> {
    const { maxConcurrentRuns, leaseSecs } = this.config;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.repository.claim(nodeId, max, maxConcurrentRuns, leaseSecs, claimKey);
      } catch (error) {
        const code = (error as { driverError?: { code?: string } })?.driverError?.code;
        // Bounded: under a storm of one node's claims the rest find nothing now and the poll loop goes on.
        if (code === UNIQUE_VIOLATION || code === DEADLOCK_DETECTED) {
          if (attempt < MAX_CLAIM_ATTEMPTS) continue;
          return [];
        }
        throw error;
      }
    }
  }

  /**
   * The node's reputation score; a quarantined node's claim is refused (403 `node_quarantined`), and so is a
   * node's without a public key (403 `no_public_key`). Both lease nothing: the claim statement skips them.
   */
  private async standing(nodeId: string): Promise<number> {
    const standing = await this.reputation.standing(nodeId);
    // Its results would be refused (no key to check their signatures): leasing it work would only lose runs.
    if (standing?.keyless) {
      throw new AppException(
        ErrorCode.Forbidden,
        'This node registered no public key: its results cannot be verified, so it gets no work (register it with one)',
        { reason: ErrorReason.NoPublicKey },
      );
    }
    if (standing?.quarantineReason) {
      throw new AppException(
        ErrorCode.Forbidden,
        `This node is quarantined: ${standing.quarantineReason}. An admin can reinstate it.`,
        { reason: ErrorReason.NodeQuarantined },
      );
    }
    return standing?.score ?? 0;
  }

  /** Wakes the waiting claim of the best-reputed node (the longest-waiting among equals), if any. */
  private wakeOne(): void {
    let best: ((byWakeUp?: boolean) => void) | undefined;
    let bestScore = -1;
    for (const [stop, score] of this.stopWaiting) {
      if (score > bestScore) {
        best = stop;
        bestScore = score;
      }
    }
    if (best) best(true);
    else this.missedWakeUps += 1;
  }

  /**
   * Resolves true on a wake-up (wakeOne), false after the fallback poll interval, at the deadline or at
   * shutdown.
   */
  private nextChance(score: number, onDeadline: (done: () => void) => void): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (byWakeUp = false) => {
        clearTimeout(poll);
        this.stopWaiting.delete(done);
        resolve(byWakeUp);
      };
      const poll = setTimeout(done, this.config.fallbackPollMs);
      this.stopWaiting.set(done, score);
      onDeadline(done);
    });
  }

  private toLeasedRun(run: ClaimedRun): LeasedRunDto {
    const wasm = this.wasmConfig;
    return {
      run_id: run.runId,
      task_id: run.taskId,
      task_type: run.taskType,
      fence: run.fence,
      lease_expires_at: run.leaseExpiresAt.toISOString(),
      spec: {
        module_id: run.moduleId,
        module_url: run.moduleId ? `/api/v1/modules/${run.moduleId}/download` : null,
        inputs: run.inputs,
        args: run.args,
        deterministic: run.deterministic,
        limits: {
          timeout_ms: run.maxExecutionTimeSec * 1000,
          memory_mb: Math.floor(wasm.maxMemoryBytes / (1024 * 1024)),
          output_bytes: wasm.maxOutputBytes,
        },
        // Issue 16 pins "for zk circuit_id + artifact URLs": the download routes node keys may read.
        ...(run.circuitId
          ? {
              circuit_id: run.circuitId,
              circuit_wasm_url: `/api/v1/circuits/${run.circuitId}/wasm`,
              circuit_zkey_url: `/api/v1/circuits/${run.circuitId}/zkey`,
            }
          : {}),
      },
    };
  }
}
