import type { Counters, Reporter } from './reporter';
import { TransportError } from './transport';

/** After the first network error of a run of them, at most one line a minute says the server is still away. */
const STILL_UNREACHABLE_EVERY_MS = 60_000;
/** A refusal the loops retry (a redirect, a 4xx) is told at most this often for one call and status. */
const REFUSED_AGAIN_EVERY_MS = 60_000;

/**
 * Answers after which this node cannot work until its operator acts, by the server's stable code or reason:
 * its key refused (401); its results signed with a key pair other than the one it registered (422
 * `signature_invalid`: the data dir's key file was lost or replaced); no public key registered (403
 * `no_public_key`). Retrying would only lease runs it cannot deliver (each refused, or expiring unreported).
 * `data_dir_unusable` is the node's own: its cache in the data dir cannot be written (see dataDirUnusable).
 */
export type Unusable = 'key_refused' | 'signature_invalid' | 'no_public_key' | 'data_dir_unusable';

export function unusableBy(error: unknown): Unusable | null {
  if (!(error instanceof TransportError)) return null;
  if (error.status === 401) return 'key_refused';
  if (error.status === 422 && error.code === 'signature_invalid') return 'signature_invalid';
  if (error.status === 403 && error.code === 'no_public_key') return 'no_public_key';
  return null;
}

export interface UnusableAnswer {
  kind: Unusable;
  error: Error;
}

/**
 * What the agent makes of how the server answered its calls: refusals, throttling and network errors
 * counted and told (with the wait before the retry; a run of network errors as its first line and then at
 * most one a minute), one line when the server answers again, and an answer that makes the node unusable
 * made known to whoever stops the agent.
 */
export class ServerAnswers {
  private markUnusable: ((answer: UnusableAnswer) => void) | null = null;
  /** The run of network errors going on (null: the server answers). */
  private unreachable: { since: number; attempts: number; toldAt: number } | null = null;
  /** When each refusal (`during` and status) was last told. */
  private readonly refusalsToldAt = new Map<string, number>();
  /** Resolves at the first answer that makes this node unusable (see Unusable): the agent should stop. */
  readonly unusable = new Promise<UnusableAnswer>((resolve) => (this.markUnusable = resolve));

  /** Sleeps (Sleeps.sleep's wakers) that end when the server answers again after network errors. */
  readonly reconnectWakers = new Set<() => void>();

  constructor(
    private readonly counters: Counters,
    private readonly reporter: Reporter,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** A refused result (the caller counts and reports it): it may make the node unusable. */
  resultRefused(error: unknown): void {
    this.noticeUnusable(error);
  }

  /** After network errors, the first answer says the server is reachable again (once). */
  answered(): void {
    if (this.unreachable === null) return;
    const afterMs = Math.round(this.clock() - this.unreachable.since);
    this.unreachable = null;
    this.reporter.emit({ event: 'reconnected', after_ms: afterMs });
    for (const wake of this.reconnectWakers) wake();
  }

  /** A call failed during `during`; it is retried in `retryMs` unless it was refused. */
  failed(error: unknown, during: string, retryMs: number): void {
    this.noticeUnusable(error);
    if (error instanceof TransportError && !error.retryable) {
      this.counters.refused++;
      // The heartbeat and claim loops retry a refusal as they do a network error: not an error line each time.
      const key = `${during} ${error.status}`;
      const toldAt = this.refusalsToldAt.get(key);
      const now = this.clock();
      if (toldAt !== undefined && now - toldAt < REFUSED_AGAIN_EVERY_MS) return;
      this.refusalsToldAt.set(key, now);
      this.reporter.emit({ event: 'refused', during, message: error.message, status: error.status });
      return;
    }
    if (error instanceof TransportError && error.status === 429) {
      this.counters.throttled++;
      this.reporter.emit({
        event: 'throttled',
        during,
        message: error.message,
        retry_ms: Math.round(retryMs),
      });
      return;
    }
    this.counters.network_errors++;
    const message = error instanceof Error ? error.message : String(error);
    const now = this.clock();
    if (this.unreachable === null) {
      this.unreachable = { since: now, attempts: 1, toldAt: now };
      this.reporter.emit({ event: 'network_error', during, message, retry_ms: Math.round(retryMs) });
      return;
    }
    const unreachable = this.unreachable;
    unreachable.attempts++;
    if (now - unreachable.toldAt < STILL_UNREACHABLE_EVERY_MS) return;
    unreachable.toldAt = now;
    this.reporter.emit({
      event: 'still_unreachable',
      attempts: unreachable.attempts,
      for_ms: Math.round(now - unreachable.since),
      during,
      message,
    });
  }

  /** The node's data dir failed a run (a cache it cannot write): every run would, so the agent stops. */
  dataDirUnusable(error: NodeJS.ErrnoException): void {
    this.markUnusable?.({ kind: 'data_dir_unusable', error });
  }

  private noticeUnusable(error: unknown): void {
    const kind = unusableBy(error);
    if (kind) this.markUnusable?.({ kind, error: error as TransportError });
  }
}
