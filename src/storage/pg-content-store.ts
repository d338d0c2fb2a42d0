import { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { isSha256Hex } from '../common/validation/sha256';
import { TransactionRunner } from '../database/transaction-runner';
import { ContentCache } from './content-cache';
import { ContentRepository, StoredObject } from './content.repository';
import { ContentIntegrityError, ContentStore, ContentUnavailableError } from './content-store';
import { bytesOf, HashedContent, hashedContent } from './hashed-content';
import { FsContentStore, FsContentStoreOptions } from './fs-content-store';

/** Bytes per `content_chunks` row: each read and write statement carries at most this much. */
export const CHUNK_BYTES = 1024 * 1024;

export interface PgContentStoreSettings {
  repository: ContentRepository;
  transactions: TransactionRunner;
  /** The namespace's cache is `<cacheDir>/<name>`. */
  cacheDir: string;
  cacheMaxBytes: number;
  chunkBytes?: number;
}

const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * The ContentStore on PostgreSQL, for API replicas that share no disk: the content lives in the database
 * (`content_objects` + `content_chunks`, namespace = the options' name), written in one transaction, read
 * chunk by chunk and verified against the id before it is returned. Each replica keeps a bounded, verified
 * disk cache (ContentCache). The options' roots are only read, for ids the database does not hold.
 */
export class PgContentStore extends ContentStore {
  private readonly logger: Logger;
  private readonly chunkBytes: number;

  static async create(
    options: FsContentStoreOptions,
    settings: PgContentStoreSettings,
  ): Promise<PgContentStore> {
    const cache = await ContentCache.create({
      name: options.name,
      dir: join(settings.cacheDir, options.name),
      layout: options.layout,
      maxObjectBytes: options.maxBytes,
      budgetBytes: settings.cacheMaxBytes,
      verifiedCacheBytes: options.verifiedCacheBytes,
    });
    return new PgContentStore(options, settings, cache, await FsContentStore.create(options));
  }

  constructor(
    private readonly options: FsContentStoreOptions,
    private readonly settings: PgContentStoreSettings,
    readonly cache: ContentCache,
    /**
     * The namespace's directories, read only for ids the database does not hold: files stored before the
     * switch to PostgreSQL, and ones an operator placed in a read root, stay readable on the replica that
     * has them (storing the same bytes again puts them in the database for every replica).
     */
    private readonly readRoots: FsContentStore,
  ) {
    super();
    this.logger = new Logger(`ContentStore(${options.name})`);
    this.chunkBytes = settings.chunkBytes ?? CHUNK_BYTES;
  }

  private get namespace(): string {
    return this.options.name;
  }

  async put(content: Uint8Array | HashedContent): Promise<string> {
    const bytes = bytesOf(content);
    if (bytes.byteLength > this.options.maxBytes)
      throw new RangeError('content is larger than the store allows');
    const hashed = await hashedContent(content);
    const { sha256 } = hashed;
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < bytes.byteLength; at += this.chunkBytes)
      chunks.push(bytes.subarray(at, at + this.chunkBytes));
    const object: StoredObject = { sizeBytes: bytes.byteLength, chunkCount: chunks.length };
    const { repository } = this.settings;
    const writeChunks = async () => {
      for (const [seq, chunk] of chunks.entries())
        await repository.insertChunk(this.namespace, sha256, seq, chunk);
    };
    // One transaction: the row and all its chunks become visible together, or not at all.
    await this.settings.transactions.run(async () => {
      if (await repository.insertIfAbsent(this.namespace, sha256, object)) return writeChunks();
      // Stored before: kept if every chunk matches ours, rewritten (repaired) if not.
      const existing = await repository.lock(this.namespace, sha256);
      if (existing && (await this.matches(sha256, existing, chunks))) return;
      if (existing) {
        this.logger.warn(
          { sha256 },
          'stored copy did not match the bytes put (corrupt, or chunked otherwise): rewritten',
        );
      }
      await repository.reset(this.namespace, sha256, object);
      await writeChunks();
    });
    await this.cacheCopy(sha256, hashed);
    return sha256;
  }

  async open(sha256: string, maxBytes = this.options.maxBytes): Promise<Buffer> {
    // A malformed id never reaches SQL or the file system.
    if (!isSha256Hex(sha256)) throw new ContentUnavailableError('malformed_id');
    // The database decides what exists: a cached copy of an object deleted since is never served.
    const object = await this.settings.repository.find(this.namespace, sha256);
    if (!object) return this.readRoots.open(sha256, maxBytes);
    if (object.sizeBytes > maxBytes) throw new ContentUnavailableError('too_large');
    const cached = await this.cache.read(sha256, maxBytes);
    if (cached) return cached;
    const bytes = await this.fetch(sha256, object);
    await this.cacheCopy(sha256, bytes);
    return bytes;
  }

  /**
   * The database's row alone, not its chunks nor the read roots: `put` always writes the row, and a file in
   * this replica's read roots is not readable on the others.
   */
  async exists(sha256: string): Promise<boolean> {
    if (!isSha256Hex(sha256)) return false;
    return this.settings.repository.exists(this.namespace, sha256);
  }

  async delete(sha256: string): Promise<void> {
    if (!isSha256Hex(sha256)) throw new ContentUnavailableError('malformed_id');
    await this.settings.repository.delete(this.namespace, sha256);
    await this.cache.delete(sha256);
    // A copy the file system store wrote to the first root (before PostgreSQL) is this namespace's too.
    await this.readRoots.delete(sha256);
  }

  /**
   * Rows stored before `before`, and the files the file system store wrote to the first root before
   * PostgreSQL (`delete` removes both). `put` commits the row and its chunks before the caller inserts its
   * own row, so a crash in between leaves bytes in the database that no row names, as it leaves a file.
   */
  async storedBefore(before: number): Promise<string[]> {
    const rows = await this.settings.repository.storedBefore(this.namespace, new Date(before));
    return [...new Set([...rows, ...(await this.readRoots.storedBefore(before))])];
  }

  /** Whether the stored object is exactly `chunks`: sizes, then each chunk's hash as the database computes it. */
  private async matches(sha256: string, existing: StoredObject, chunks: Uint8Array[]): Promise<boolean> {
    if (existing.chunkCount !== chunks.length) return false;
    const size = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    if (existing.sizeBytes !== size) return false;
    const digests = await this.settings.repository.chunkDigests(this.namespace, sha256);
    return (
      digests.length === chunks.length && digests.every((digest, seq) => digest === sha256Of(chunks[seq]))
    );
  }

  /**
   * Reads the chunks in order, hashing as they come, and returns the bytes only if they are the recorded size
   * and hash to the id: tampered or corrupt rows are refused, never served.
   */
  private async fetch(sha256: string, object: StoredObject): Promise<Buffer> {
    const hash = createHash('sha256');
    const parts: Buffer[] = [];
    let remaining = object.sizeBytes;
    for (let seq = 0; seq < object.chunkCount; seq++) {
      const chunk = await this.settings.repository.readChunk(this.namespace, sha256, seq, remaining);
      // Chunks are written and deleted with their row: one gone now was deleted with it since the row was read.
      if (!chunk) throw new ContentUnavailableError('missing');
      if (!chunk.bytes) throw this.integrityError(sha256);
      hash.update(chunk.bytes);
      parts.push(chunk.bytes);
      remaining -= chunk.bytes.length;
    }
    if (remaining !== 0 || hash.digest('hex') !== sha256) throw this.integrityError(sha256);
    return Buffer.concat(parts, object.sizeBytes);
  }

  /** The operator must hear of it: callers answer 409, and only 5xx are logged by the error filter. */
  private integrityError(sha256: string): ContentIntegrityError {
    this.logger.error({ sha256, namespace: this.namespace }, 'stored content does not hash to its id');
    return new ContentIntegrityError(sha256);
  }

  /** The database holds the content: a cache that cannot be written (disk full) slows reads, never fails them. */
  private async cacheCopy(sha256: string, content: Uint8Array | HashedContent): Promise<void> {
    try {
      await this.cache.store(sha256, content);
    } catch (error) {
      this.logger.warn({ sha256, err: error }, 'could not cache content on local disk');
    }
  }
}
