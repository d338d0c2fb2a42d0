import type { Counters, Reporter } from './reporter';
import { TransportError } from './transport';

/**
 * What the agent makes of how the server answered its calls: refusals, throttling and network errors
 * counted and told (with the wait before the retry), one line when the server answers again after network
 * errors, and a refused key (401) made known to whoever stops the agent.
 */
export class ServerAnswers {
  private keyRefusedBy: ((error: TransportError) => void) | null = null;
  /** When the first network error of a run of them happened (null: the server answers). */
  private unreachableSince: number | null = null;
  /**
   * Resolves when the server refuses the node's key (401: revoked, rotated past its grace, the node deleted
   * or rejected). Nothing the agent retries can change that: the operator must act, so it should stop.
   */
  readonly keyRefused = new Promise<TransportError>((resolve) => (this.keyRefusedBy = resolve));

  /** Sleeps (Sleeps.sleep's wakers) that end when the server answers again after network errors. */
  readonly reconnectWakers = new Set<() => void>();

  constructor(
    private readonly counters: Counters,
    private readonly reporter: Reporter,
  ) {}

  /** A refused result (the caller counts and reports it): a 401 still means the key is gone. */
  resultRefused(error: unknown): void {
    this.noticeKeyRefusal(error);
  }

  /** After network errors, the first answer says the server is reachable again (once). */
  answered(): void {
    if (this.unreachableSince === null) return;
    const afterMs = Math.round(performance.now() - this.unreachableSince);
    this.unreachableSince = null;
    this.reporter.emit({ event: 'reconnected', after_ms: afterMs });
    for (const wake of this.reconnectWakers) wake();
  }

  /** A call failed during `during`; it is retried in `retryMs` unless it was refused. */
  failed(error: unknown, during: string, retryMs: number): void {
    this.noticeKeyRefusal(error);
    if (error instanceof TransportError && !error.retryable) {
      this.counters.refused++;
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
    this.unreachableSince ??= performance.now();
    this.reporter.emit({
      event: 'network_error',
      during,
      message: error instanceof Error ? error.message : String(error),
      retry_ms: Math.round(retryMs),
    });
  }

  private noticeKeyRefusal(error: unknown): void {
    if (error instanceof TransportError && error.status === 401) this.keyRefusedBy?.(error);
  }
}
