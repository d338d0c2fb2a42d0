import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { ProofSystem } from './proof-system';

export interface VerifyJob {
  protocol: ProofSystem;
  vkey: unknown;
  publicSignals: string[];
  proof: unknown;
}

export type VerifyOutcome =
  | { kind: 'verified'; valid: boolean; ms: number }
  /** snarkjs threw, or its thread died: the proof is not accepted. */
  | { kind: 'failed'; message: string; ms: number }
  | { kind: 'timeout'; ms: number }
  /** The pool is closing or its queue is full: nothing was decided about the proof. */
  | { kind: 'unavailable'; message: string };

type WorkerResult = { valid: boolean; ms: number } | { error: string; ms: number };

/**
 * The worker is plain JavaScript next to this file: src/proofs/worker under ts-jest, dist/src/proofs/worker in
 * the build (nest-cli copies *.js assets), so one path works in both.
 */
export const VERIFY_WORKER_FILE = join(__dirname, 'worker', 'verify.worker.js');

export interface VerifierPoolOptions {
  workers: number;
  timeoutMs: number;
  /** Verifications waiting for a thread beyond this are refused at once (`unavailable`). */
  maxQueue?: number;
}

/**
 * snarkjs verification on worker threads, so that the event loop only ever validates, copies and waits.
 * Each thread builds its bn128 curve once. A verification that runs past `timeoutMs` (queueing included) is
 * aborted; piscina then terminates that thread and starts a fresh one.
 */
export class VerifierPool implements OnApplicationShutdown {
  private readonly logger = new Logger(VerifierPool.name);
  private readonly pool: Piscina<VerifyJob, WorkerResult>;
  private closing: Promise<void> | null = null;

  constructor(readonly options: VerifierPoolOptions) {
    if (!existsSync(VERIFY_WORKER_FILE)) throw new Error(`verifier worker missing: ${VERIFY_WORKER_FILE}`);
    this.pool = new Piscina<VerifyJob, WorkerResult>({
      filename: VERIFY_WORKER_FILE,
      minThreads: options.workers,
      maxThreads: options.workers,
      // Threads are kept: rebuilding a curve costs more than a verification.
      idleTimeout: Number.MAX_SAFE_INTEGER,
      maxQueue: options.maxQueue ?? 4096,
      closeTimeout: options.timeoutMs,
    });
  }

  /** Threads currently running (0 once closed). */
  get threadCount(): number {
    return this.pool.threads.length;
  }

  async verify(job: VerifyJob, timeoutMs = this.options.timeoutMs): Promise<VerifyOutcome> {
    if (this.closing) return { kind: 'unavailable', message: 'the verifier is shutting down' };
    const abort = new AbortController();
    let timedOut = false;
    const started = performance.now();
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    try {
      const result = await this.pool.run(job, { signal: abort.signal });
      if ('error' in result) return { kind: 'failed', message: result.error, ms: result.ms };
      return { kind: 'verified', valid: result.valid, ms: result.ms };
    } catch (error) {
      const ms = performance.now() - started;
      if (timedOut) return { kind: 'timeout', ms };
      const message = error instanceof Error ? error.message : String(error);
      if (this.closing || /queue is at limit|shutting down|Terminating worker/i.test(message)) {
        return { kind: 'unavailable', message };
      }
      return { kind: 'failed', message, ms };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lets running verifications finish (up to the timeout), then ends every thread. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.pool.close();
      } catch (error) {
        this.logger.warn(
          `closing verifier threads: ${error instanceof Error ? error.message : String(error)}`,
        );
        await this.pool.destroy();
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
