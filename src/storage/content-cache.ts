import { Logger } from '@nestjs/common';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveRoots } from './contained-paths';
import { ContentIntegrityError, ContentUnavailableError } from './content-store';
import { bytesOf, type HashedContent } from './hashed-content';
import { ContentLayout, FsContentStore } from './fs-content-store';

export interface ContentCacheOptions {
  /** Names the namespace in logs. */
  name: string;
  /** This cache's own directory: everything the store finds there is a copy it may evict. */
  dir: string;
  layout: ContentLayout;
  /** Largest object the store holds (a copy over it is refused like any stored file). */
  maxObjectBytes: number;
  /** Bytes the cache may keep on disk; 0 turns it off. */
  budgetBytes: number;
  /** Budget of the verified-bytes memory cache in front of the files (FsContentStore's). */
  verifiedCacheBytes?: number;
}

const describeFault = (error: unknown) =>
  (error as NodeJS.ErrnoException | undefined)?.code ??
  (error instanceof Error ? error.message : String(error));

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * One replica's disk cache of a namespace whose content lives elsewhere (the database). The files go through
 * an FsContentStore, so every read is verified against the id and every write is atomic; this class keeps
 * their total size within a byte budget, evicting the least recently used first. Files left by an earlier
 * run are counted at boot (oldest written first), so restarts cannot grow the cache past its bound.
 */
export class ContentCache {
  private readonly logger = new Logger('ContentCache');
  /** Object id → size in bytes, least recently used first (Map keeps insertion order). */
  private readonly entries = new Map<string, number>();
  private total = 0;

  static async create(options: ContentCacheOptions): Promise<ContentCache> {
    const [root] = await resolveRoots([options.dir]);
    const files = new FsContentStore({
      name: `${options.name}-cache`,
      roots: [root],
      layout: options.layout,
      maxBytes: options.maxObjectBytes,
      verifiedCacheBytes: options.verifiedCacheBytes,
    });
    const cache = new ContentCache(files, options);
    await cache.load(root);
    return cache;
  }

  private constructor(
    private readonly files: FsContentStore,
    private readonly options: ContentCacheOptions,
  ) {}

  /** Bytes of the copies the cache holds now. */
  get bytes(): number {
    return this.total;
  }

  /**
   * The verified copy of `sha256`, or null. A copy that is gone, refused (a symlink planted in its place) or
   * no longer hashes to its id is never returned: it is dropped, and the caller reads the database instead.
   */
  async read(sha256: string, maxBytes = this.options.maxObjectBytes): Promise<Buffer | null> {
    if (!this.entries.has(sha256)) return null;
    try {
      const bytes = await this.files.open(sha256, maxBytes);
      this.touch(sha256);
      return bytes;
    } catch (error) {
      if (error instanceof ContentUnavailableError || error instanceof ContentIntegrityError) {
        await this.delete(sha256);
        return null;
      }
      // Only a copy: a fault reading it (EMFILE, EACCES, EIO) is no reason to fail a request the database can
      // answer. The entry stays: the fault may pass, and a copy that is really gone is dropped as above.
      this.logger.warn(
        `reading the cached copy ${sha256} failed (${describeFault(error)}): reading the database`,
      );
      return null;
    }
  }

  /**
   * Keeps a copy of bytes known to hash to `sha256`. Room is made first, so the files on disk stay within the
   * budget even while the new one is written; an object larger than the whole budget is not cached.
   */
  async store(sha256: string, content: Uint8Array | HashedContent): Promise<void> {
    const bytes = bytesOf(content);
    if (bytes.byteLength > this.options.budgetBytes || this.options.budgetBytes === 0) return;
    // Stored under a higher limit than today's: read from the database each time, as `put` refuses it.
    if (bytes.byteLength > this.options.maxObjectBytes) return;
    this.forget(sha256);
    this.entries.set(sha256, bytes.byteLength);
    this.total += bytes.byteLength;
    await this.evictOverBudget();
    try {
      await this.files.put(content);
    } catch (error) {
      this.forget(sha256);
      throw error;
    }
    // Evicted (or deleted) while it was being written: that unlink ran before the file existed, so the copy
    // would stay on disk uncounted, past the budget. (A store of the same bytes since has its own entry.)
    if (!this.entries.has(sha256)) await this.files.delete(sha256);
  }

  async delete(sha256: string): Promise<void> {
    this.forget(sha256);
    await this.files.delete(sha256);
  }

  private touch(sha256: string): void {
    const size = this.entries.get(sha256);
    if (size === undefined) return;
    this.entries.delete(sha256);
    this.entries.set(sha256, size);
  }

  private forget(sha256: string): void {
    const size = this.entries.get(sha256);
    if (size === undefined) return;
    this.entries.delete(sha256);
    this.total -= size;
  }

  /** Entries leave the map before their file goes, so concurrent callers never evict the same one twice. */
  private async evictOverBudget(): Promise<void> {
    const victims: string[] = [];
    for (const [sha256] of this.entries) {
      if (this.total <= this.options.budgetBytes) break;
      this.forget(sha256);
      victims.push(sha256);
    }
    for (const sha256 of victims) await this.files.delete(sha256);
  }

  /** Counts the copies an earlier run left (and removes its unfinished temporary files), then trims to budget. */
  private async load(root: string): Promise<void> {
    const { shard, suffix } = this.options.layout;
    const name = new RegExp(`^([0-9a-f]{64})${escapeRegExp(suffix)}$`);
    const dirs = shard
      ? (await readdir(root, { withFileTypes: true }))
          .filter((entry) => entry.isDirectory() && /^[0-9a-f]{2}$/.test(entry.name))
          .map((entry) => join(root, entry.name))
      : [root];
    const found: { sha256: string; size: number; mtimeMs: number }[] = [];
    for (const dir of dirs) {
      for (const file of await readdir(dir)) {
        const path = join(dir, file);
        // The directory is this cache's alone: a temporary file is a write that a crash interrupted.
        if (file.startsWith('.') && file.endsWith('.tmp')) {
          await rm(path, { force: true });
          continue;
        }
        const match = name.exec(file);
        if (!match || (shard && !file.startsWith(dir.slice(-2)))) continue;
        const stat = await lstat(path);
        if (stat.isFile()) found.push({ sha256: match[1], size: stat.size, mtimeMs: stat.mtimeMs });
      }
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const { sha256, size } of found) {
      this.entries.set(sha256, size);
      this.total += size;
    }
    await this.evictOverBudget();
  }
}
