import type { Reporter } from './reporter';
import type { TransportError } from './transport';

/** The most runs one claim asks for (the server's Claim-Next and claim `max` take up to 16). */
export const MAX_CLAIM = 16;

/** After an answer too large to read, how long claims ask for one run at a time. */
export const ONE_AT_A_TIME_MS = 10 * 60_000;

/**
 * How many runs a claim (or a result's Claim-Next) asks for at most. The answer holds the runs' inputs, and
 * past what the agent reads (256 MiB) the call fails; asking again for as many would fail again, each time
 * leasing runs that expire unseen. After such an answer, claims ask for one run at a time for a while; when
 * even one run's answer is too large, the claim loop backs off as from a network error.
 */
export class ClaimSize {
  private oneAtATimeUntil = -Infinity;

  constructor(
    private readonly reporter: Reporter,
    private readonly clock: () => number,
  ) {}

  get max(): number {
    return this.clock() < this.oneAtATimeUntil ? 1 : MAX_CLAIM;
  }

  /** A call that asked for `runs` runs got an answer too large to read; it is tried again in `retryMs`. */
  tooLarge(error: TransportError, during: 'claim' | 'submit', runs: number, retryMs: number): void {
    this.oneAtATimeUntil = this.clock() + ONE_AT_A_TIME_MS;
    this.reporter.emit({
      event: 'answer_too_large',
      during,
      runs,
      message: error.message,
      retry_ms: Math.round(retryMs),
    });
  }
}
