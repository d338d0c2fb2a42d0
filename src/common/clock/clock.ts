/**
 * The app's notion of "now", injected wherever a service compares times held in memory (cache lifetimes,
 * refresh intervals, request checks such as "expires_at must be in the future"). Anything stored that expires
 * is judged by the database's `now()` instead: a replica's clock never decides whether a row has expired.
 */
export abstract class Clock {
  abstract now(): Date;

  /** Milliseconds since the epoch, for arithmetic on durations. */
  nowMs(): number {
    return this.now().getTime();
  }
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }

  override nowMs(): number {
    return Date.now();
  }
}
