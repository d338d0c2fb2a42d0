import { utimes } from 'node:fs/promises';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../src/config/app-config';
import { TransactionRunner } from '../../src/database/transaction-runner';
import { ContentStore } from '../../src/storage/content-store';
import { UNNAMED_BYTES_GRACE_MS } from '../../src/storage/unnamed-bytes';
import { Namespace, onPostgres, storedFile } from './content';
import { eventually } from './eventually';

/** Past the grace an unnamed-bytes sweep leaves stored objects. */
export const HOUR_AND_A_BIT_MS = UNNAMED_BYTES_GRACE_MS + 60_000;

/** Makes `id` stored HOUR_AND_A_BIT_MS ago: the row's time on PostgreSQL, the file's mtime on PGlite. */
export async function ageStored(ds: DataSource, config: AppConfig, namespace: Namespace, id: string) {
  const then = new Date(Date.now() - HOUR_AND_A_BIT_MS);
  if (onPostgres(ds)) {
    await ds.query(`UPDATE content_objects SET created_at = $3 WHERE namespace = $1 AND sha256 = $2`, [
      namespace,
      id,
      then,
    ]);
  } else {
    await utimes(storedFile(ds, config, namespace, id), then, then);
  }
}

/**
 * Holds the next `put` on `content` once it has stored (or found) the bytes, until `release`: where a crash
 * would leave them unnamed. `done` resolves when the put is held. Restore the store with `restore`.
 */
export function holdNextPut(content: ContentStore) {
  let held!: () => void;
  const done = new Promise<void>((resolve) => (held = resolve));
  let release!: () => void;
  const proceed = new Promise<void>((resolve) => (release = resolve));
  const put = content.put.bind(content);
  const spy = jest.spyOn(content, 'put').mockImplementationOnce(async (given) => {
    const result = await put(given);
    held();
    await proceed;
    return result;
  });
  return { done, release, restore: () => spy.mockRestore() };
}

/**
 * Until one session waits on an advisory lock (PostgreSQL; PGlite has one session, so a second transaction
 * waits by construction and there is nothing to see).
 */
export async function untilWaitingOnAdvisoryLock(ds: DataSource): Promise<void> {
  if (!onPostgres(ds)) return;
  await eventually(
    async () => {
      const [{ n }] = await ds.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
      );
      expect(n).toBe(1);
    },
    { timeoutMs: 10_000 },
  );
}

/**
 * Runs `body` in a transaction held open after it, as a row insert not yet committed, until `commit`:
 * `held` resolves once the body has run, `committed` once the transaction has ended.
 */
export function holdTransactionOpen(tx: TransactionRunner, body: () => Promise<unknown>) {
  let bodyDone!: () => void;
  const held = new Promise<void>((resolve) => (bodyDone = resolve));
  let commit!: () => void;
  const committing = new Promise<void>((resolve) => (commit = resolve));
  const committed = tx.run(async () => {
    await body();
    bodyDone();
    await committing;
  });
  return { held, commit, committed };
}
