/**
 * How a replica hears that another replica may have made work claimable. A hint only: a lost, late or
 * duplicated wake-up delays a claim by at most the claimers' fallback poll and never loses work.
 */
export abstract class WakeUpTransport {
  /** Which transport this is: `in-process` (embedded database), `postgres` (LISTEN/NOTIFY) or `redis`. */
  abstract readonly kind: 'in-process' | 'postgres' | 'redis';

  /** Tells the other replicas, after the commit that made work claimable. Fire and forget. */
  abstract publish(): void;

  /**
   * `listener` runs when another replica published, and after a reconnect (what was published while the
   * transport was down is lost, so listeners should look once).
   */
  abstract subscribe(listener: () => void): void;
}

/**
 * The embedded database has one process (its data directory is locked), so there are no other replicas: the
 * in-process signal (WorkSignal) is all there is.
 */
export class InProcessWakeUps extends WakeUpTransport {
  readonly kind = 'in-process' as const;
  publish(): void {}
  subscribe(): void {}
}

/**
 * Coalesces publications: while one is in flight, any number of further requests become one more send
 * after it. Every commit is still followed by a send that starts after it, which is what a listener needs.
 */
export class CoalescingSender {
  private sending = false;
  private again = false;

  constructor(
    private readonly send: () => Promise<unknown>,
    private readonly onError: (error: unknown) => void,
  ) {}

  request(): void {
    if (this.sending) {
      this.again = true;
      return;
    }
    this.sending = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.send();
        } catch (error) {
          this.onError(error);
        }
      } while (this.again);
    } finally {
      this.sending = false;
    }
  }
}
