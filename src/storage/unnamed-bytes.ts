import { TransactionRunner } from '../database/transaction-runner';
import { ContentStore } from './content-store';

/**
 * Bytes no row names, stored longer ago than this, are what a crash between `put` and the row's insert left
 * behind: no upload lasts an hour. (Even a younger object could go safely, see collectUnnamedBytes; this only
 * keeps the sweep out of the way of uploads in flight.)
 */
export const UNNAMED_BYTES_GRACE_MS = 60 * 60 * 1000;
/** Objects per sweep, each removed in its own short transaction; a backlog goes over the next sweeps. */
const UNNAMED_BATCH = 100;

/** The rows that name a namespace's stored bytes (modules, circuits). */
export interface BytesNames {
  /**
   * Until the transaction ends: an insert of a row naming `sha256` and the sweep's check and delete take
   * turns. The insert, under this lock, writes the bytes again if they are gone since its `put`.
   */
  lockBytes(sha256: string): Promise<void>;
  /** Those of `ids` that no row names. */
  unnamed(ids: string[]): Promise<string[]>;
}

/**
 * Removes stored bytes that no row names and that were stored more than UNNAMED_BYTES_GRACE_MS before `now`:
 * a crash between a `put` and its row leaves them, and nothing else ever would. Safe across replicas sharing
 * the store and database: each object is checked again and removed under `lockBytes`, which the row's insert
 * takes too, so an insert of the same bytes either finds them gone and writes them again, or has named them
 * before the check. How many were removed.
 */
export async function collectUnnamedBytes(
  content: ContentStore,
  names: BytesNames,
  tx: TransactionRunner,
  now = Date.now(),
): Promise<number> {
  const stored = await content.storedBefore(now - UNNAMED_BYTES_GRACE_MS);
  if (stored.length === 0) return 0;
  let removed = 0;
  for (const sha256 of (await names.unnamed(stored)).slice(0, UNNAMED_BATCH)) {
    const gone = await tx.run(async () => {
      await names.lockBytes(sha256);
      if ((await names.unnamed([sha256])).length === 0) return false;
      await content.delete(sha256);
      return true;
    });
    if (gone) removed++;
  }
  return removed;
}
