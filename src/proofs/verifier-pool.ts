import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { FairLimiter, QueueRefusal, RefusalReason } from '../common/concurrency/fair-limiter';
import { Lane } from '../common/concurrency/fair-queue';
import { ProofSystem } from './proof-system';

export interface VerifyJob {
  protocol: ProofSystem;
  vkey: unknown;
  publicSignals: string[];
  proof: unknown;
}

export type VerifyOutcome =
  | { kind: 'verified'; valid: boolean; ms: number }
  /** snarkjs threw on this input: the proof is not accepted. */
  | { kind: 'failed'; message: string; ms: number }
  /** It ran on a thread for the whole budget without an answer: nothing was decided about the proof. */
  | { kind: 'timeout'; ms: number }
  /**
   * It never ran (`reason` says why the queue refused it), or the pool is closing or its thread died (no
   * `reason`): nothing was decided.
   */
  | { kind: 'unavailable'; message: string; retryAfterMs: number; reason?: RefusalReason };

type WorkerResult = { valid: boolean; ms: number } | { error: string; ms: number };

/**
 * The worker is plain JavaScript next to this file: src/proofs/worker under ts-jest, dist/src/proofs/worker in
 * the build (nest-cli copies *.js assets), so one path works in both.
 */
export const VERIFY_WORKER_FILE = join(__dirname, 'worker', 'verify.worker.js');

export interface VerifierPoolOptions {
  workers: number;
  /** Longest a verification may wait for a thread, and longest it may then run on it. */
  timeoutMs: number;
  /** Verifications one user may have waiting; beyond it that user is refused (`unavailable`). */
  maxQueuedPerUser?: number;
  /** Verifications waiting in all; beyond it the longest user queue gives way (see FairQueue). */
  maxQueue?: number;
}

// A verification's time until some have been measured (Groth16 27–32 ms, PLONK 13–16 ms here).
const EXPECTED_VERIFY_MS = 50;

/**
 * snarkjs verification on worker threads, so that the event loop only ever validates, copies and waits.
 * Each thread builds its bn128 curve once.
 *
 * Admission happens here, not in piscina's queue: a FairLimiter hands the threads out fairly per user (a freed
 * thread goes to the user with the fewest verifications running), refuses at once a verification that would
 * wait longer than `timeoutMs` for a thread, and refuses one still waiting at `timeoutMs`. The run's own
 * budget starts when it gets a thread; past it the run is aborted and piscina replaces that thread.
 */
export class VerifierPool implements OnApplicationShutdown {
  private readonly logger = new Logger(VerifierPool.name);
  /** Made at the first verification (see threadsStarted). */
  private pool: Piscina<VerifyJob, WorkerResult> | null = null;
  private started: Promise<void> | null = null;
  private threadsReady = false;
  private readonly limiter: FairLimiter;
  private closing: Promise<void> | null = null;

  constructor(readonly options: VerifierPoolOptions) {
    if (!existsSync(VERIFY_WORKER_FILE)) throw new Error(`verifier worker missing: ${VERIFY_WORKER_FILE}`);
    this.limiter = new FairLimiter({
      limit: options.workers,
      // Work-conserving: one user alone may use every thread. A verification takes tens of milliseconds, so
      // a thread freed that soon goes to whoever has the fewest running; no share needs to be held back.
      maxRunningPerUser: options.workers,
      maxQueuedPerLane: options.maxQueuedPerUser ?? 256,
      maxQueued: options.maxQueue ?? 4096,
      maxWaitMs: options.timeoutMs,
      expectedRunMs: EXPECTED_VERIFY_MS,
    });
  }

  /** Threads currently running (0 before the first verification and once closed). */
  get threadCount(): number {
    return this.pool?.threads.length ?? 0;
  }

  /**
   * The threads, started at the first verification rather than at boot: a server that never verifies a proof
   * never pays for them (each thread loads snarkjs and builds a curve, ~0.5 s of CPU). Each start is waited for
   * before the first job is timed, so no verification's budget is spent starting a thread.
   */
  private threadsStarted(): Promise<void> {
    this.started ??= (async () => {
      const pool = new Piscina<VerifyJob, WorkerResult>({
        filename: VERIFY_WORKER_FILE,
        minThreads: this.options.workers,
        maxThreads: this.options.workers,
        // Threads are kept: rebuilding a curve costs more than a verification.
        idleTimeout: Number.MAX_SAFE_INTEGER,
        // The limiter never has more than `workers` jobs out, so piscina only queues while it replaces a thread.
        maxQueue: this.options.workers,
        closeTimeout: this.options.timeoutMs,
      });
      // A thread that fails outside a verification is the pool's 'error' event: unheard, it would end the process.
      pool.on('error', (error: unknown) => this.logger.error(`verifier thread failed: ${String(error)}`));
      this.pool = pool;
      // A job of no protocol answers at once, once its thread has loaded: one per thread. A thread that cannot
      // start fails the verification that next needs it (`unavailable`), as it would have at boot.
      const warmUp = { protocol: 'none', vkey: null, publicSignals: [], proof: null } as unknown as VerifyJob;
      await Promise.allSettled(Array.from({ length: this.options.workers }, () => pool.run(warmUp)));
      this.threadsReady = true;
    })();
    return this.started;
  }

  get stats(): { active: number; queued: number } {
    return { active: this.limiter.active, queued: this.limiter.queued };
  }

  /** `lane` is whose verification it is; `timeoutMs` (tests) overrides the run's budget on its thread. */
  async verify(job: VerifyJob, lane: Lane, timeoutMs = this.options.timeoutMs): Promise<VerifyOutcome> {
    if (this.closing) return this.unavailable('the verifier is shutting down');
    // Once started, admission stays synchronous: calls made in one turn of the event loop queue in call order.
    if (!this.threadsReady) {
      await this.threadsStarted();
      if (this.closing) return this.unavailable('the verifier is shutting down');
    }
    try {
      return await this.limiter.run(lane, () => this.runOnThread(job, timeoutMs));
    } catch (error) {
      if (!(error instanceof QueueRefusal)) throw error;
      return {
        kind: 'unavailable',
        message: error.message,
        retryAfterMs: error.retryAfterMs,
        reason: error.reason,
      };
    }
  }

  private async runOnThread(job: VerifyJob, timeoutMs: number): Promise<VerifyOutcome> {
    const abort = new AbortController();
    let timedOut = false;
    const started = performance.now();
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    try {
      const result = await this.pool!.run(job, { signal: abort.signal });
      // The budget decides, not the event loop's order: an answer handled after the deadline (a busy loop can
      // take the thread's message before the due timer) is a timeout like one the timer caught.
      const elapsed = performance.now() - started;
      if (elapsed >= timeoutMs) return { kind: 'timeout', ms: elapsed };
      if ('error' in result) return { kind: 'failed', message: result.error, ms: result.ms };
      return { kind: 'verified', valid: result.valid, ms: result.ms };
    } catch (error) {
      if (timedOut) return { kind: 'timeout', ms: performance.now() - started };
      // snarkjs's own throws come back as results (above); a rejection here is the thread or the pool.
      const message = error instanceof Error ? error.message : String(error);
      return this.unavailable(message);
    } finally {
      clearTimeout(timer);
    }
  }

  private unavailable(message: string): VerifyOutcome {
    return { kind: 'unavailable', message, retryAfterMs: this.limiter.expectedRunMs };
  }

  /** Lets running verifications finish (up to the timeout), then ends every thread. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.limiter.close();
      await this.started;
      try {
        await this.pool?.close();
      } catch (error) {
        this.logger.warn(
          `closing verifier threads: ${error instanceof Error ? error.message : String(error)}`,
        );
        await this.pool?.destroy();
      }
      // The threads' curves die with them. A curve built on this thread (a bench, a CLI, a future prover
      // calling snarkjs directly) owns worker threads of its own that would keep the process alive.
      const curve = (globalThis as { curve_bn128?: { terminate(): Promise<void> } | null }).curve_bn128;
      await curve?.terminate();
    })();
    return this.closing;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}
