import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../src/config/app-config';
import { EmbeddedDataSource } from '../../src/database/data-source.factory';

/** The content store's namespaces, as the app names them (`wasm.module`, `proofs.module`). */
export const MODULES = 'wasm-modules';
export const CIRCUIT_BLOBS = 'circuit-blobs';
export type Namespace = typeof MODULES | typeof CIRCUIT_BLOBS;

/** On PostgreSQL stored content lives in the database (PgContentStore); on PGlite in files (FsContentStore). */
export const onPostgres = (ds: DataSource) => !(ds instanceof EmbeddedDataSource);

const relativePath = (namespace: Namespace, id: string) =>
  namespace === MODULES ? `${id}.wasm` : join(id.slice(0, 2), id);

/**
 * The file an app on this database writes for `id`: its first root's copy on PGlite, this replica's cache
 * copy on PostgreSQL.
 */
export function storedFile(ds: DataSource, config: AppConfig, namespace: Namespace, id: string): string {
  if (onPostgres(ds)) return join(config.storage.cacheDir, namespace, relativePath(namespace, id));
  const root = namespace === MODULES ? config.wasm.allowedRoots[0] : config.proofs.storageDir;
  return join(root, relativePath(namespace, id));
}

/** The directory storedFile's files are in (the first root, or the namespace's cache). */
export const storeDirectory = (ds: DataSource, config: AppConfig, namespace: Namespace) =>
  onPostgres(ds)
    ? join(config.storage.cacheDir, namespace)
    : namespace === MODULES
      ? config.wasm.allowedRoots[0]
      : config.proofs.storageDir;

/** The bytes stored under `id` as the store keeps them (database rows or file), unverified; null if none. */
export async function storedBytes(
  ds: DataSource,
  config: AppConfig,
  namespace: Namespace,
  id: string,
): Promise<Buffer | null> {
  if (!onPostgres(ds)) {
    const file = storedFile(ds, config, namespace, id);
    return existsSync(file) ? readFileSync(file) : null;
  }
  const rows = await ds.query<{ bytes: Buffer | null }[]>(
    `SELECT (SELECT string_agg(c.bytes, ''::bytea ORDER BY c.seq) FROM content_chunks c
              WHERE c.namespace = o.namespace AND c.sha256 = o.sha256) AS bytes
       FROM content_objects o WHERE o.namespace = $1 AND o.sha256 = $2`,
    [namespace, id],
  );
  return rows.length === 0 ? null : (rows[0].bytes ?? Buffer.alloc(0));
}

/**
 * Swaps what is stored under `id` for `bytes` behind the store's back: the file on PGlite; on PostgreSQL the
 * database's chunks and this replica's cached copy (a verified copy left in the cache would still be served).
 */
export async function swapStored(
  ds: DataSource,
  config: AppConfig,
  namespace: Namespace,
  id: string,
  bytes: Buffer,
): Promise<void> {
  const file = storedFile(ds, config, namespace, id);
  if (onPostgres(ds)) {
    await ds.query(`DELETE FROM content_chunks WHERE namespace = $1 AND sha256 = $2`, [namespace, id]);
    await ds.query(`INSERT INTO content_chunks (namespace, sha256, seq, bytes) VALUES ($1, $2, 0, $3)`, [
      namespace,
      id,
      bytes,
    ]);
    await ds.query(`UPDATE content_objects SET chunk_count = 1 WHERE namespace = $1 AND sha256 = $2`, [
      namespace,
      id,
    ]);
    if (!existsSync(file)) return;
  }
  writeFileSync(file, bytes);
}
