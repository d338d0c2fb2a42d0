import { Logger } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isSha256Hex } from '../common/validation/sha256';
import { ContainedPaths, resolveRoots } from './contained-paths';
import { ContentIntegrityError, ContentStore, ContentUnavailableError } from './content-store';
import { bytesOf, HashedContent, hashedContent } from './hashed-content';
import { fingerprint, sameFingerprint, VerifiedFiles } from './verified-files';

/** Verified bytes kept in memory by default (a warm read then reads neither the file nor its hash again). */
export const VERIFIED_CACHE_BYTES = 64 * 1024 * 1024;

/** Where an object lives below a root: `[<first two hex digits>/]<sha256><suffix>`. */
export interface ContentLayout {
  /** Spread objects over 256 subdirectories named by their first byte. */
  shard: boolean;
  /** Appended to the digest to make the file name, e.g. `.wasm` (may be empty). */
  suffix: string;
}

export interface FsContentStoreOptions {
  /** Names the namespace in logs, and on PostgreSQL in the content tables and cache (never rename one). */
  name: string;
  /** New objects are written to the first root; reads look in every root, in order. */
  roots: readonly string[];
  layout: ContentLayout;
  /** Objects larger than this are neither stored nor read. */
  maxBytes: number;
  /** Budget of the verified-bytes cache; 0 turns it off. Default VERIFIED_CACHE_BYTES. */
  verifiedCacheBytes?: number;
}

/** The name `write` gives the bytes until they are complete (see there). */
const TEMPORARY_FILE = /^\.[0-9a-f]{64}\.[0-9a-f]{16}\.tmp$/;
/** A temporary file older than this was left by a write that a crash interrupted. */
const STALE_TEMPORARY_MS = 60 * 60 * 1000;

/** Fsyncs a directory, so that a rename into it survives a crash (Linux; the file's own fsync does not). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The file system ContentStore: one instance per namespace. Every path it opens is derived from a
 * well-formed digest and checked by realpath containment; reads go through one O_NOFOLLOW descriptor and are
 * verified against the digest; writes are atomic.
 */
export class FsContentStore extends ContentStore {
  private readonly logger: Logger;
  private readonly paths: ContainedPaths;
  private readonly verified: VerifiedFiles;

  /**
   * Creates missing roots (0700) and canonicalises them before the store exists, and removes from the write
   * root the temporary files of writes a crash interrupted.
   */
  static async create(options: FsContentStoreOptions): Promise<FsContentStore> {
    const store = new FsContentStore({ ...options, roots: await resolveRoots(options.roots) });
    await store.removeStaleTemporaries();
    return store;
  }

  /**
   * Only those older than STALE_TEMPORARY_MS: a root may be shared with another server writing now, and no
   * write lasts that long. Returns how many were removed.
   */
  async removeStaleTemporaries(now = Date.now()): Promise<number> {
    const root = this.paths.writeRoot;
    let removed = 0;
    for (const dir of await this.writeDirectories()) {
      for (const file of await readdir(dir)) {
        if (!TEMPORARY_FILE.test(file)) continue;
        const stat = await lstat(join(dir, file)).catch(() => null);
        if (!stat?.isFile() || now - stat.mtimeMs < STALE_TEMPORARY_MS) continue;
        await rm(join(dir, file), { force: true });
        removed++;
      }
    }
    if (removed > 0)
      this.logger.warn(`removed ${removed} temporary file(s) of interrupted writes from ${root}`);
    return removed;
  }

  /** The write root, and its shard directories in the sharded layout. */
  private async writeDirectories(): Promise<string[]> {
    const root = this.paths.writeRoot;
    const dirs = [root];
    if (this.options.layout.shard) {
      for (const entry of await readdir(root, { withFileTypes: true })) {
        if (entry.isDirectory() && /^[0-9a-f]{2}$/.test(entry.name)) dirs.push(join(root, entry.name));
      }
    }
    return dirs;
  }

  /** Objects in the write root (where `delete` removes them) last written before `before` (mtime). */
  async storedBefore(before: number): Promise<string[]> {
    const { suffix } = this.options.layout;
    const ids: string[] = [];
    for (const dir of await this.writeDirectories()) {
      for (const file of await readdir(dir)) {
        const id = file.slice(0, 64);
        if (file !== `${id}${suffix}` || !isSha256Hex(id)) continue;
        const stat = await lstat(join(dir, file)).catch(() => null);
        if (stat?.isFile() && stat.mtimeMs < before) ids.push(id);
      }
    }
    return ids;
  }

  /** `options.roots` must already be canonical (resolveRoots); FsContentStore.create does that. */
  constructor(private readonly options: FsContentStoreOptions) {
    super();
    this.logger = new Logger(`ContentStore(${options.name})`);
    this.paths = new ContainedPaths(options.roots);
    this.verified = new VerifiedFiles(options.verifiedCacheBytes ?? VERIFIED_CACHE_BYTES);
  }

  async put(content: Uint8Array | HashedContent): Promise<string> {
    const bytes = bytesOf(content);
    if (bytes.byteLength > this.options.maxBytes)
      throw new RangeError('content is larger than the store allows');
    const { sha256 } = await hashedContent(content);
    // Idempotent: a copy that verifies is kept; a missing, refused or corrupt one is replaced in the first root.
    if (!(await this.has(sha256))) await this.write(sha256, bytes);
    return sha256;
  }

  /** Looks in each root in order; the first copy found must verify. */
  async open(sha256: string, maxBytes = this.options.maxBytes): Promise<Buffer> {
    // Only a well-formed digest becomes a path: nothing a caller passes can name another file.
    if (!isSha256Hex(sha256)) throw new ContentUnavailableError('malformed_id');
    const name = this.relativePath(sha256);
    for (const root of this.paths.roots) {
      try {
        return await this.readVerified(join(root, name), sha256, maxBytes);
      } catch (error) {
        if (error instanceof ContentUnavailableError && error.reason === 'missing') continue;
        // The operator must hear of it: callers answer 409, and only 5xx are logged by the error filter.
        if (error instanceof ContentIntegrityError) {
          this.logger.error({ sha256, root }, 'stored file does not hash to its id');
        }
        throw error;
      }
    }
    throw new ContentUnavailableError('missing');
  }

  /** A regular file under the id's name in a root, found as `open` finds it (stat only). */
  async exists(sha256: string): Promise<boolean> {
    if (!isSha256Hex(sha256)) return false;
    const name = this.relativePath(sha256);
    for (const root of this.paths.roots) {
      try {
        const stat = await lstat(await this.paths.canonicalize(join(root, name)));
        return stat.isFile();
      } catch (error) {
        const missing =
          (error instanceof ContentUnavailableError && error.reason === 'missing') ||
          (error as NodeJS.ErrnoException).code === 'ENOENT';
        if (missing) continue;
        // What `open` refuses (a symlink leading out) is not stored: `put` writes the object again.
        if (error instanceof ContentUnavailableError) return false;
        throw error;
      }
    }
    return false;
  }

  async delete(sha256: string): Promise<void> {
    if (!isSha256Hex(sha256)) throw new ContentUnavailableError('malformed_id');
    const root = this.paths.writeRoot;
    const relative = this.relativePath(sha256);
    let dir = dirname(join(root, relative));
    if (dir !== root) {
      try {
        // A shard directory replaced by a symlink must not carry the unlink out of the root.
        dir = await this.paths.canonicalize(dir);
      } catch (error) {
        if (error instanceof ContentUnavailableError && error.reason === 'missing') return;
        throw error;
      }
    }
    const path = join(dir, basename(relative));
    this.verified.delete(`${sha256}:${path}`);
    try {
      // unlink removes the directory entry itself, never what a symlink put there points at.
      await unlink(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    await syncDirectory(dir);
  }

  private relativePath(sha256: string): string {
    const file = `${sha256}${this.options.layout.suffix}`;
    return this.options.layout.shard ? join(sha256.slice(0, 2), file) : file;
  }

  /**
   * Reads a file and proves it is the one named by `sha256`. The file is opened once (O_NOFOLLOW, so a last
   * component swapped for a symlink after the containment check fails) and the bytes are read from that
   * descriptor; whatever was swapped in between, only bytes hashing to the id are ever returned (no TOCTOU
   * window).
   *
   * The verified bytes are then kept in memory with the file's identity (device, inode, size, mtime and
   * ctime, taken before reading). While a later read finds the path unchanged (lstat, so a symlink put in
   * its place differs too) it returns those bytes without reading or hashing again: they are the verified
   * bytes themselves, so nothing unverified is ever returned. Anything that changes the file (rename over
   * it, rewrite, truncation) changes its identity, and the file is read and verified again, and refused if
   * it no longer hashes to the id.
   */
  private async readVerified(candidate: string, sha256: string, maxBytes: number): Promise<Buffer> {
    const real = await this.paths.canonicalize(candidate);
    const key = `${sha256}:${real}`;
    const known = this.verified.get(key);
    if (known && known.bytes.length <= maxBytes) {
      const now = await lstat(real, { bigint: true }).catch(() => null);
      if (now && now.isFile() && sameFingerprint(known.file, fingerprint(now))) return known.bytes;
      this.verified.delete(key);
    }
    let handle;
    try {
      handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new ContentUnavailableError('symlink_escape');
      if (code === 'ENOENT') throw new ContentUnavailableError('missing');
      throw error;
    }
    try {
      const stat = await handle.stat({ bigint: true });
      if (!stat.isFile()) throw new ContentUnavailableError('not_a_file');
      if (stat.size > BigInt(maxBytes)) throw new ContentUnavailableError('too_large');
      const bytes = await handle.readFile();
      if (bytes.length > maxBytes) throw new ContentUnavailableError('too_large');
      if (createHash('sha256').update(bytes).digest('hex') !== sha256)
        throw new ContentIntegrityError(sha256);
      this.verified.set(key, fingerprint(stat), bytes);
      return bytes;
    } finally {
      await handle.close();
    }
  }

  /**
   * Atomic: the bytes go to a fresh temporary name in the target's directory (O_EXCL, so a planted file or
   * symlink is never followed), are fsynced, and renamed over the final name, so readers see the old file
   * or the complete new one, never a partial write, and two writers of the same bytes race to one result.
   */
  private async write(sha256: string, bytes: Uint8Array): Promise<void> {
    const root = this.paths.writeRoot;
    const relative = this.relativePath(sha256);
    let dir = dirname(join(root, relative));
    if (dir !== root) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // A shard directory replaced by a symlink must not carry the write out of the root.
      dir = await this.paths.canonicalize(dir);
    }
    const temporary = join(dir, `.${sha256}.${randomBytes(8).toString('hex')}.tmp`);
    const handle = await open(temporary, 'wx', 0o600);
    try {
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, join(dir, basename(relative)));
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    await syncDirectory(dir);
  }
}
