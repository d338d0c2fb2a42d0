import { Injectable } from '@nestjs/common';
import { DatabaseSession } from './transaction-runner';

/** Early enough to be past by any clock, late enough for PostgreSQL (whose timestamps start in 4714 BC). */
const LONG_AGO = Date.UTC(-4712, 0, 1);

/**
 * The database's `now()`, the clock that decides whether anything stored has expired. A client-given expiry is
 * checked against it too, so a time accepted as "in the future" is in the future where it will be judged.
 */
@Injectable()
export class DatabaseClock {
  constructor(private readonly db: DatabaseSession) {}

  async isFuture(time: Date): Promise<boolean> {
    if (!(time.getTime() >= LONG_AGO)) return false; // also NaN: never sent to the database to fail there
    const [{ future }] = await this.db.query<{ future: boolean }>(
      `SELECT $1::timestamptz > now() AS future`,
      [time],
    );
    return future;
  }
}
