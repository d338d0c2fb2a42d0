import { answerSlackMs, claimWaitMs } from './answer-timing';
import { ResultSending, sendResult } from './result-submission';
import { executeOrRefuse, Execution } from './executors';
import type { AgentSetup } from './agent-setup';
import { ClaimSize } from './claim-size';
import { handBack, handBackIgnored, RELEASE_WAIT_MS } from './hand-back';
import { Held, leaseLengthMs, unstartable } from './leased-run';
import { Heartbeats } from './heartbeats';
import { retryWaitMs, Sleeps, waitAtMost } from './pacing';
import { ServerAnswers, UnusableAnswer } from './server-answers';
import { Counters, zeroCounters } from './reporter';
import { LEASE_LOST } from './run-events';
import { Slots } from './slot-usage';
import { isAnswerTooLarge, LeasedRun, retryAfterOf, TransportError } from './transport';

/**
 * The node agent's loop, the same for a remote node (HTTP) and the embedded one (direct calls): heartbeats at
 * the server's interval (more often while holding leases, so they are renewed well before they expire) naming
 * the leases it holds; long-poll claims for its free slots; each run executed off the event loop (the engine's
 * worker threads, a prover thread), signed and reported; `lost`/`cancel` answers stop a run at once.
 */
export class Agent {
  readonly counters: Counters = zeroCounters();
  private readonly held = new Map<string, Held>();
  private readonly inflight = new Set<Promise<void>>();
  /** Releases of runs it ignored (bounded): a stop waits for them, so their lines come before `stopped`. */
  private readonly releasing = new Set<Promise<void>>();
  private readonly sleeps: Sleeps;
  /** Held runs still executing take a slot; the others are reporting their result, which needs none. */
  private readonly slotState: Slots;
  private readonly heartbeats: Heartbeats;
  private readonly claimAbort = new AbortController();
  /** Aborted when a stop gives up the results still unanswered after the grace period. */
  private readonly resultAbort = new AbortController();
  /** Wakes results waiting to be sent again when a stop gives them up. */
  private readonly resultWakers = new Set<() => void>();
  private readonly random: () => number;
  private slotFreed: (() => void) | null = null;
  /** Slots a result in flight claims for (Claim-Next); the claim loop leaves them alone. */
  private reservedByResult = 0;
  /** Cleared when the server answers a result without `next` (it predates Claim-Next): claim separately. */
  private claimNextOffered = true;
  private stopping = false;
  /** Runs a result's Claim-Next leased once the stop had begun: never started, handed back with the rest. */
  private readonly leasedWhileStopping: LeasedRun[] = [];
  private stopped = false;
  private stopPromise: Promise<void> | null = null;
  private leaseMs = 30_000;
  private loops: Promise<void>[] = [];
  private readonly answers: ServerAnswers;
  private readonly claimSize: ClaimSize;
  private readonly resultSending: ResultSending;

  constructor(private readonly setup: AgentSetup) {
    this.random = setup.random ?? Math.random;
    this.sleeps = setup.sleeps ?? new Sleeps();
    this.slotState = new Slots(setup.concurrency, setup.clock);
    this.answers = new ServerAnswers(this.counters, setup.reporter, setup.clock);
    this.claimSize = new ClaimSize(setup.reporter, setup.clock ?? (() => performance.now()));
    this.resultSending = {
      setup,
      counters: this.counters,
      answers: this.answers,
      claimSize: this.claimSize,
      signal: this.resultAbort.signal,
      leaseMs: () => this.leaseMs,
      now: () => this.now(),
      stopped: () => this.stopped,
      afterFailure: (error, failures) => this.afterFailure(error, 'submit', failures, this.resultWakers),
      drop: (held, reason) => this.drop(held, reason),
      noClaimNext: () => (this.claimNextOffered = false),
    };
    // Nothing it runs now could be reported, and every claim would lease runs bound to expire: it stops at once.
    void this.answers.unusable.then(({ kind }) => this.stop(0, `not reported: ${kind.replaceAll('_', ' ')}`));
    this.heartbeats = new Heartbeats({
      transport: setup.transport,
      version: setup.version,
      telemetry: setup.telemetry,
      counters: this.counters,
      random: this.random,
      sleeps: this.sleeps,
      leases: () =>
        [...this.held.values()]
          .filter((held) => held.dropped === null)
          .map(({ run }) => ({ run_id: run.run_id, fence: run.fence })),
      renewWithinMs: () => this.renewWithinMs(),
      drop: (runId, reason) => this.dropById(runId, reason),
      noteFailure: (error, retryMs) => this.answers.failed(error, 'heartbeat', retryMs),
      noteAnswered: () => this.answers.answered(),
      noteMaxRuns: (max) => this.limitSlots(max),
    });
  }

  /** The slots in use: `concurrency`, or fewer when the server leases fewer runs to one node. */
  get slots(): number {
    return this.slotState.size;
  }

  /** Resolves when an answer makes the node unusable (see ServerAnswers); the agent is stopping by then. */
  get unusable(): Promise<UnusableAnswer> {
    return this.answers.unusable;
  }

  get running(): number {
    return this.held.size;
  }

  /** The first heartbeat (retried until the server answers), then the heartbeat and claim loops. */
  async start(): Promise<void> {
    for (let failures = 0; !this.stopping; failures++) {
      try {
        await this.heartbeats.beat();
        break;
      } catch (error) {
        // A refusal (unknown node, a revoked key) will not change by retrying: the operator must act.
        if (error instanceof TransportError && !error.retryable) throw error;
        await this.afterFailure(error, 'heartbeat', failures);
      }
    }
    this.loops = [this.heartbeats.loop(() => !this.stopped), this.claimLoop()];
  }

  /**
   * Stops claiming, lets running work finish within `graceMs` (heartbeats go on meanwhile), then stops what is
   * left without reporting it and hands those runs back, so the server queues them again at once (should that
   * fail, their leases expire and the runs go to other nodes then).
   */
  stop(graceMs: number, why = 'shutdown'): Promise<void> {
    this.stopPromise ??= this.shutdown(graceMs, why);
    return this.stopPromise;
  }

  private async shutdown(graceMs: number, why: string): Promise<void> {
    this.stopping = true;
    this.claimAbort.abort();
    this.slotFreed?.();
    this.setup.reporter.emit({ event: 'stopping', running: this.held.size, grace_ms: graceMs });
    await waitAtMost(Promise.all([...this.inflight]), graceMs);
    // Runs still executing are stopped and handed back. One whose result is on its way may yet be accepted: it
    // gets as long as the hand-backs may take, then its answer is given up and the run handed back too, so a
    // hung server holds the exit no longer than that past the grace period.
    const live = [...this.held.values()].filter((held) => held.dropped === null);
    const sending = live.filter((held) => held.executed);
    for (const held of this.held.values()) this.drop(held, why);
    const handedBack = handBack(this.setup, runsOf(live.filter((held) => !sending.includes(held))));
    await waitAtMost(Promise.all([...this.inflight]), RELEASE_WAIT_MS);
    const unanswered = sending.filter((held) => this.held.has(held.run.run_id));
    this.resultAbort.abort();
    for (const wake of [...this.resultWakers]) wake();
    await Promise.all([...this.inflight]);
    const givenUp = handBack(this.setup, runsOf(unanswered));
    await Promise.all([
      handedBack,
      givenUp,
      handBack(this.setup, this.leasedWhileStopping),
      ...this.releasing,
    ]);
    this.stopped = true;
    this.heartbeats.abortInFlight();
    this.sleeps.endAll();
    await Promise.all(this.loops);
    this.setup.reporter.emit({ event: 'stopped', ...this.counters });
  }

  /** The counters, the runs held now and how busy the slots were since the last report (percent). */
  reportCounters(): void {
    this.setup.reporter.emit({
      event: 'counters',
      running: this.held.size,
      slots_busy_pct: Math.round(this.slotState.takeBusyShare() * 100),
      ...this.counters,
    });
  }

  private async claimLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const free = this.slotState.free(this.held.size) - this.reservedByResult;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        this.slotFreed = null;
        continue;
      }
      const max = Math.min(free, this.claimSize.max);
      try {
        const runs = await this.setup.transport.claim(
          max,
          this.setup.claimWaitMs ?? claimWaitMs(this.leaseMs),
          this.claimAbort.signal,
          answerSlackMs(this.leaseMs),
        );
        failures = 0;
        this.answers.answered();
        for (const run of runs) this.startRun(run);
      } catch (error) {
        if (this.stopping) break;
        if (isAnswerTooLarge(error)) {
          // Asked again at once for one run; one run's answer too large is backed off from, said each time.
          const retryMs = max > 1 ? 0 : this.retryMs(error, failures++);
          this.claimSize.tooLarge(error, 'claim', max, retryMs);
          await this.sleeps.sleep(retryMs);
          continue;
        }
        // Backing off from network errors (up to 30 s), it claims again once a heartbeat gets through: after a
        // server restart the node would otherwise sit idle for the rest of its backoff.
        await this.afterFailure(error, 'claim', failures++, this.answers.reconnectWakers);
      }
    }
  }

  private limitSlots(maxConcurrentRuns: number): void {
    if (this.slotState.limitTo(maxConcurrentRuns, this.setup.reporter)) this.slotFreed?.();
  }

  /**
   * When the claim loop is idle for want of slots (not in a long poll), the result of the run that just freed
   * one carries the claim for the free slots (Claim-Next): one round trip per run instead of two. Only one
   * result at a time carries a claim; a slot freed meanwhile is the claim loop's. Not a proof's result: its
   * verification may hold the answer for seconds, and the node would sit idle behind it.
   */
  private reserveClaimNext(run: LeasedRun): number | undefined {
    const idle = this.slotFreed !== null && this.reservedByResult === 0 && !this.stopping;
    const free = this.slotState.free(this.held.size);
    if (!idle || !this.claimNextOffered || run.task_type === 'zk_proof' || free <= 0) return undefined;
    this.reservedByResult = Math.min(free, this.claimSize.max);
    return this.reservedByResult;
  }

  /** The result that carried a claim is answered (or given up): its runs start, the claim loop takes over. */
  private releaseClaimNext(next: LeasedRun[] | undefined): void {
    this.reservedByResult = 0;
    // Runs leased by a result answered after shutdown began are not started: the stop hands them back.
    if (this.stopping) this.leasedWhileStopping.push(...(next ?? []));
    else for (const run of next ?? []) this.startRun(run);
    this.slotFreed?.();
  }

  private startRun(run: LeasedRun): void {
    const problem = unstartable(run, this.held);
    if (problem !== null) {
      const runId = (run as Partial<LeasedRun> | null)?.run_id;
      this.setup.reporter.emit({ event: 'ignored', run_id: runId ?? null, message: problem });
      const releasing = handBackIgnored(this.setup, run, this.held).finally(() =>
        this.releasing.delete(releasing),
      );
      this.releasing.add(releasing);
      return;
    }
    const held: Held = {
      run,
      controller: new AbortController(),
      dropped: null,
      executed: false,
      lostAt: null,
    };
    this.held.set(run.run_id, held);
    this.slotState.begin(run.run_id);
    this.leaseMs = leaseLengthMs(run, this.setup.transport.serverNow?.() ?? Date.now()) ?? this.leaseMs;
    this.counters.claimed++;
    this.heartbeats.wake();
    this.setup.reporter.emit({
      event: 'claimed',
      task_id: run.task_id,
      run_id: run.run_id,
      task_type: run.task_type,
    });
    const done: Promise<void> = this.process(held)
      .catch((error: unknown) => {
        this.setup.reporter.emit({ event: 'refused', task_id: run.task_id, message: String(error) });
      })
      .finally(() => {
        this.held.delete(run.run_id);
        this.inflight.delete(done);
        this.slotFreed?.();
      });
    this.inflight.add(done);
  }

  private async process(held: Held): Promise<void> {
    const { run } = held;
    const deps = { transport: this.setup.transport, engine: this.setup.engine, cache: this.setup.cache };
    const started = performance.now();
    let execution: Execution;
    try {
      execution = await executeOrRefuse(deps, run, held.controller.signal);
    } catch (error) {
      // The node's own data dir failed it (isLocalFileError): reported as `error` it spent an attempt of
      // someone's task and showed them a path of this machine. Handed back uncharged; the agent stops (78).
      // Dropped first: the stop that follows must not find it unfinished and hand it back a second time.
      this.drop(held, 'handed back');
      this.answers.dataDirUnusable(error as NodeJS.ErrnoException);
      await handBack(this.setup, [run]);
      return;
    } finally {
      held.executed = true;
      this.slotState.end(run.run_id);
    }
    const claimNext = held.dropped === null ? this.reserveClaimNext(run) : undefined;
    if (claimNext === undefined) this.slotFreed?.();
    let next: LeasedRun[] | undefined;
    try {
      next = await sendResult(this.resultSending, held, execution, started, claimNext);
    } finally {
      if (claimNext !== undefined) this.releaseClaimNext(next);
    }
  }

  private dropById(runId: string, reason: string): void {
    const held = this.held.get(runId);
    if (!held) return;
    // A run whose result is being sent may have been accepted, its answer lost: the server then calls it `lost`
    // (no longer leased). The result's retry, which the server answers as it did the first time, tells which
    // (sendResult gives it up a lease after this, so nothing is retried for ever).
    if (reason === LEASE_LOST && held.executed) {
      held.lostAt ??= this.now();
      return;
    }
    this.drop(held, reason);
  }

  /** Stops the run at once (its engine worker or prover thread is terminated); its result is never sent. */
  private drop(held: Held, reason: string): void {
    if (held.dropped !== null) return;
    held.dropped = reason;
    held.controller.abort();
  }

  private async afterFailure(error: unknown, during: string, failures: number, wakers?: Set<() => void>) {
    // One draw: the wait the line announces is the wait.
    const retryMs = this.retryMs(error, failures);
    this.answers.failed(error, during, retryMs);
    await this.sleeps.sleep(retryMs, wakers);
  }

  private now(): number {
    return this.setup.clock?.() ?? performance.now();
  }

  private retryMs(error: unknown, failures: number): number {
    return retryWaitMs(failures + 1, this.random(), retryAfterOf(error), this.renewWithinMs() ?? Infinity);
  }

  /** While holding leases, a third of the lease: beats and retries wait no longer, so renewals get through. */
  private renewWithinMs(): number | null {
    return this.held.size > 0 ? this.leaseMs / 3 : null;
  }
}

const runsOf = (held: readonly Held[]): LeasedRun[] => held.map((one) => one.run);
