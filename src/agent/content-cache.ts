import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirectories } from '../common/fs/make-directories';
import { processAlive } from '../common/runtime/process-alive';

const SHA256 = /^[0-9a-f]{64}$/;
/** An entry being written (writeDisk): `<sha256>.<pid>.<ms>.tmp`. */
const TEMP = /^[0-9a-f]{64}\.(\d+)\.\d+\.tmp$/;

/** Downloaded bytes did not hash to the id they were asked for: never used, never stored. */
export class ContentMismatchError extends Error {
  constructor(readonly sha256: string) {
    super(`downloaded content does not hash to ${sha256}`);
    this.name = 'ContentMismatchError';
  }
}

/**
 * The size of a cache entry found at start, or null for what is none and is forgotten: a symlink (dangling or
 * not: it is removed), a directory, a file that cannot be looked at. A download puts the entry back.
 */
function entrySize(path: string): number | null {
  try {
    // lstat, not stat: a link would have the cache count, and read, whatever it points at.
    const stat = lstatSync(path);
    if (stat.isFile()) return stat.size;
    if (stat.isSymbolicLink()) rmSync(path, { force: true });
  } catch (error) {
    // Gone since readdir, or not ours to look at or remove: no entry either way, and no reason to stop.
    if ((error as NodeJS.ErrnoException).code === undefined) throw error;
  }
  return null;
}

const sha256Of = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * The agent's content-addressed cache of modules and circuit artifacts, bounded in bytes. Entries are
 * checked against their SHA-256 before first use (a download, or a file from an earlier start, that does not
 * match is dropped); the least recently used go first when a new one would pass the bound. With a directory the
 * entries also live on disk across restarts (files named by hash, written atomically); without one, in memory.
 */
export class ContentCache {
  private readonly memory = new Map<string, Uint8Array>();
  private memoryBytes = 0;
  /** On-disk entries, least recently used first (Map order), with their sizes. */
  private readonly disk = new Map<string, number>();
  private diskBytes = 0;
  /** Bytes of entries being written: counted against the bound from the moment room is made for them. */
  private pendingBytes = 0;
  private readonly inflight = new Map<string, Promise<Uint8Array>>();

  constructor(
    private readonly dir: string | null,
    private readonly maxBytes: number,
    /** Verified bytes kept in memory as well (hot modules are not re-read and re-hashed per run). */
    private readonly maxMemoryBytes = Math.min(maxBytes, 256 * 1024 * 1024),
  ) {
    if (dir) {
      makeDirectories(dir, 0o700);
      for (const name of readdirSync(dir)) {
        // A write cut short by a crash leaves its temp file, outside the byte bound: removed unless its writer
        // still runs (another agent on this data dir by mistake must not lose the file it is writing).
        const temp = TEMP.exec(name);
        if (temp && !processAlive(Number(temp[1]))) rmSync(join(dir, name), { force: true });
        if (!SHA256.test(name)) continue;
        const size = entrySize(join(dir, name));
        if (size === null) continue;
        this.disk.set(name, size);
        this.diskBytes += size;
      }
    }
  }

  get stats(): { entries: number; bytes: number } {
    return this.dir
      ? { entries: this.disk.size, bytes: this.diskBytes }
      : { entries: this.memory.size, bytes: this.memoryBytes };
  }

  /** The bytes whose SHA-256 is `sha256`: from the cache, else from `download` (checked, then kept). */
  get(sha256: string, download: () => Promise<Uint8Array>): Promise<Uint8Array> {
    if (!SHA256.test(sha256)) return Promise.reject(new ContentMismatchError(sha256));
    const hot = this.memory.get(sha256);
    if (hot) {
      this.touch(sha256, hot);
      return Promise.resolve(hot);
    }
    let pending = this.inflight.get(sha256);
    if (!pending) {
      pending = this.load(sha256, download).finally(() => this.inflight.delete(sha256));
      this.inflight.set(sha256, pending);
    }
    return pending;
  }

  private async load(sha256: string, download: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const stored = await this.readDisk(sha256);
    if (stored) {
      this.remember(sha256, stored);
      return stored;
    }
    const bytes = await download();
    // Checked before use: a server, proxy or disk that hands out other bytes must not get them executed.
    if (sha256Of(bytes) !== sha256) throw new ContentMismatchError(sha256);
    await this.writeDisk(sha256, bytes);
    this.remember(sha256, bytes);
    return bytes;
  }

  private async readDisk(sha256: string): Promise<Uint8Array | null> {
    if (!this.dir || !this.disk.has(sha256)) return null;
    const path = join(this.dir, sha256);
    const bytes = await readFile(path).catch(() => null);
    if (bytes && sha256Of(bytes) === sha256) {
      this.disk.delete(sha256);
      this.disk.set(sha256, bytes.byteLength);
      return bytes;
    }
    // Missing or altered since it was written: forget it and download again.
    this.forgetDisk(sha256);
    await rm(path, { force: true });
    return null;
  }

  private async writeDisk(sha256: string, bytes: Uint8Array): Promise<void> {
    if (!this.dir || bytes.byteLength > this.maxBytes) return;
    // Room is made and taken before the first await: downloads that finish together must not each find the
    // same free bytes and pass the bound between them.
    const victims: string[] = [];
    while (this.diskBytes + this.pendingBytes + bytes.byteLength > this.maxBytes && this.disk.size > 0) {
      const oldest = this.disk.keys().next().value as string;
      this.forgetDisk(oldest);
      victims.push(oldest);
    }
    // The rest of the room is being written by others now: this one is used, not kept on disk.
    if (this.diskBytes + this.pendingBytes + bytes.byteLength > this.maxBytes) return;
    this.pendingBytes += bytes.byteLength;
    try {
      for (const victim of victims) await rm(join(this.dir, victim), { force: true });
      const path = join(this.dir, sha256);
      const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
      const file = await open(temp, 'wx', 0o600);
      try {
        await file.writeFile(bytes);
      } finally {
        await file.close();
      }
      await rename(temp, path);
    } finally {
      this.pendingBytes -= bytes.byteLength;
    }
    this.disk.set(sha256, bytes.byteLength);
    this.diskBytes += bytes.byteLength;
  }

  private forgetDisk(sha256: string): void {
    const size = this.disk.get(sha256);
    if (size === undefined) return;
    this.disk.delete(sha256);
    this.diskBytes -= size;
  }

  private remember(sha256: string, bytes: Uint8Array): void {
    if (bytes.byteLength > this.maxMemoryBytes) return;
    while (this.memoryBytes + bytes.byteLength > this.maxMemoryBytes && this.memory.size > 0) {
      const oldest = this.memory.keys().next().value as string;
      this.memoryBytes -= this.memory.get(oldest)!.byteLength;
      this.memory.delete(oldest);
    }
    this.memory.set(sha256, bytes);
    this.memoryBytes += bytes.byteLength;
  }

  /** Marks an entry most recently used, in memory and on disk. */
  private touch(sha256: string, bytes: Uint8Array): void {
    this.memory.delete(sha256);
    this.memory.set(sha256, bytes);
    const size = this.disk.get(sha256);
    if (size !== undefined) {
      this.disk.delete(sha256);
      this.disk.set(sha256, size);
    }
  }
}
