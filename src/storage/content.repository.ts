import { DatabaseSession } from '../database/transaction-runner';

/** An object's row: how many bytes it holds and in how many chunks (seq 0 … chunkCount − 1). */
export interface StoredObject {
  sizeBytes: number;
  chunkCount: number;
}

export interface StoredChunk {
  size: number;
  /** null when the chunk is longer than the reader allowed (it was never fetched). */
  bytes: Buffer | null;
}

interface ObjectRow {
  size_bytes: string;
  chunk_count: number;
}

const toObject = (row: ObjectRow | undefined): StoredObject | null =>
  row ? { sizeBytes: Number(row.size_bytes), chunkCount: row.chunk_count } : null;

/**
 * The shared content tables (`content_objects`, `content_chunks`). Writes that must stand together run in the
 * caller's TransactionRunner.run; every statement is keyed by namespace, so namespaces never see each other.
 */
export class ContentRepository {
  constructor(private readonly db: DatabaseSession) {}

  async find(namespace: string, sha256: string): Promise<StoredObject | null> {
    const [row] = await this.db.query<ObjectRow>(
      `SELECT size_bytes, chunk_count FROM content_objects WHERE namespace = $1 AND sha256 = $2`,
      [namespace, sha256],
    );
    return toObject(row);
  }

  async exists(namespace: string, sha256: string): Promise<boolean> {
    const rows = await this.db.query(`SELECT 1 FROM content_objects WHERE namespace = $1 AND sha256 = $2`, [
      namespace,
      sha256,
    ]);
    return rows.length > 0;
  }

  /**
   * Inserts the object's row unless one exists. A concurrent insert of the same object waits for the other
   * transaction, then either finds its row (false) or, if that one rolled back, inserts (true): concurrent
   * puts of the same bytes never fail.
   */
  async insertIfAbsent(namespace: string, sha256: string, object: StoredObject): Promise<boolean> {
    const { affected } = await this.db.execute(
      `INSERT INTO content_objects (namespace, sha256, size_bytes, chunk_count) VALUES ($1, $2, $3, $4)
       ON CONFLICT (namespace, sha256) DO NOTHING`,
      [namespace, sha256, object.sizeBytes, object.chunkCount],
    );
    return affected === 1;
  }

  /** The row, locked until the transaction ends (a second writer waits instead of rewriting alongside). */
  async lock(namespace: string, sha256: string): Promise<StoredObject | null> {
    const [row] = await this.db.query<ObjectRow>(
      `SELECT size_bytes, chunk_count FROM content_objects WHERE namespace = $1 AND sha256 = $2 FOR UPDATE`,
      [namespace, sha256],
    );
    return toObject(row);
  }

  /** Each stored chunk's SHA-256, computed by the database: comparing a copy costs no transfer of its bytes. */
  async chunkDigests(namespace: string, sha256: string): Promise<string[]> {
    const rows = await this.db.query<{ digest: string }>(
      `SELECT encode(sha256(bytes), 'hex') AS digest FROM content_chunks
        WHERE namespace = $1 AND sha256 = $2 ORDER BY seq`,
      [namespace, sha256],
    );
    return rows.map((row) => row.digest);
  }

  /** Drops the object's chunks and sets (or recreates) its row, for a rewrite in the same transaction. */
  async reset(namespace: string, sha256: string, object: StoredObject): Promise<void> {
    await this.db.execute(`DELETE FROM content_chunks WHERE namespace = $1 AND sha256 = $2`, [
      namespace,
      sha256,
    ]);
    await this.db.execute(
      `INSERT INTO content_objects (namespace, sha256, size_bytes, chunk_count) VALUES ($1, $2, $3, $4)
       ON CONFLICT (namespace, sha256)
       DO UPDATE SET size_bytes = EXCLUDED.size_bytes, chunk_count = EXCLUDED.chunk_count`,
      [namespace, sha256, object.sizeBytes, object.chunkCount],
    );
  }

  async insertChunk(namespace: string, sha256: string, seq: number, bytes: Uint8Array): Promise<void> {
    await this.db.execute(
      `INSERT INTO content_chunks (namespace, sha256, seq, bytes) VALUES ($1, $2, $3, $4)`,
      [namespace, sha256, seq, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)],
    );
  }

  /**
   * One chunk, fetched only if it is at most `maxBytes` long: a tampered row can never make a reader hold more
   * than the object's recorded size. null when there is no such chunk.
   */
  async readChunk(
    namespace: string,
    sha256: string,
    seq: number,
    maxBytes: number,
  ): Promise<StoredChunk | null> {
    const [row] = await this.db.query<{ size: number; bytes: Buffer | null }>(
      `SELECT octet_length(bytes) AS size, CASE WHEN octet_length(bytes) <= $4 THEN bytes END AS bytes
         FROM content_chunks WHERE namespace = $1 AND sha256 = $2 AND seq = $3`,
      [namespace, sha256, seq, maxBytes],
    );
    return row ? { size: row.size, bytes: row.bytes } : null;
  }

  /** The ids of objects stored before `before`. */
  async storedBefore(namespace: string, before: Date): Promise<string[]> {
    const rows = await this.db.query<{ sha256: string }>(
      `SELECT sha256 FROM content_objects WHERE namespace = $1 AND created_at < $2`,
      [namespace, before],
    );
    return rows.map((row) => row.sha256);
  }

  /** Removes the object; its chunks go with it (ON DELETE CASCADE). */
  async delete(namespace: string, sha256: string): Promise<void> {
    await this.db.execute(`DELETE FROM content_objects WHERE namespace = $1 AND sha256 = $2`, [
      namespace,
      sha256,
    ]);
  }
}
