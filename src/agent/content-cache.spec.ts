import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentCache, ContentMismatchError } from './content-cache';

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const blob = (size: number, fill: number) => new Uint8Array(size).fill(fill);

describe('ContentCache', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vcp-cache-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('downloads once, checks the hash, and serves later gets from the cache', async () => {
    const sut = new ContentCache(dir, 1024);
    const bytes = blob(100, 1);
    const download = jest.fn(() => Promise.resolve(bytes));
    expect(await sut.get(sha(bytes), download)).toEqual(bytes);
    expect(await sut.get(sha(bytes), download)).toEqual(bytes);
    expect(download).toHaveBeenCalledTimes(1);
    expect(readdirSync(dir)).toEqual([sha(bytes)]);
    expect(statSync(join(dir, sha(bytes))).mode & 0o777).toBe(0o600);
  });

  it('forgets what is no entry (a dangling or other symlink, a directory) at start, instead of failing', () => {
    const good = blob(10, 1);
    writeFileSync(join(dir, sha(good)), good);
    symlinkSync('/nonexistent', join(dir, 'a'.repeat(64)));
    symlinkSync(join(dir, sha(good)), join(dir, 'b'.repeat(64)));
    mkdirSync(join(dir, 'c'.repeat(64)));
    const sut = new ContentCache(dir, 1024);
    expect(sut.stats).toEqual({ entries: 1, bytes: 10 });
    expect(readdirSync(dir).sort()).toEqual([sha(good), 'c'.repeat(64)].sort());
  });

  it('refuses bytes that do not hash to the id, and keeps nothing of them', async () => {
    const sut = new ContentCache(dir, 1024);
    const wanted = sha(blob(10, 1));
    await expect(sut.get(wanted, () => Promise.resolve(blob(10, 2)))).rejects.toBeInstanceOf(
      ContentMismatchError,
    );
    expect(readdirSync(dir)).toEqual([]);
    expect(sut.stats.entries).toBe(0);
  });

  it('stays within its byte bound, dropping the least recently used entry', async () => {
    const sut = new ContentCache(dir, 250, 250);
    const [a, b, c] = [blob(100, 1), blob(100, 2), blob(100, 3)];
    await sut.get(sha(a), () => Promise.resolve(a));
    await sut.get(sha(b), () => Promise.resolve(b));
    await sut.get(sha(a), () => Promise.resolve(a)); // a is now the most recent
    await sut.get(sha(c), () => Promise.resolve(c));
    expect(sut.stats.bytes).toBeLessThanOrEqual(250);
    expect(readdirSync(dir).sort()).toEqual([sha(a), sha(c)].sort());
  });

  it('stays within its byte bound when different downloads finish together', async () => {
    const sut = new ContentCache(dir, 250, 250);
    const blobs = [blob(100, 1), blob(100, 2), blob(100, 3), blob(100, 4)];
    await Promise.all(blobs.map((bytes) => sut.get(sha(bytes), () => Promise.resolve(bytes))));
    const onDisk = readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
    expect(onDisk).toBeLessThanOrEqual(250);
    expect(sut.stats.bytes).toBe(onDisk);
    expect(new ContentCache(dir, 250).stats).toEqual(sut.stats);
  });

  it('a file altered on disk since it was written is not used: it is downloaded again', async () => {
    const bytes = blob(50, 7);
    await new ContentCache(dir, 1024).get(sha(bytes), () => Promise.resolve(bytes));
    writeFileSync(join(dir, sha(bytes)), blob(50, 8));
    const download = jest.fn(() => Promise.resolve(bytes));
    const restarted = new ContentCache(dir, 1024);
    expect(await restarted.get(sha(bytes), download)).toEqual(bytes);
    expect(download).toHaveBeenCalledTimes(1);
  });

  it('removes the temp file of a write a crash cut short, not one whose writer still runs', () => {
    const id = sha(Buffer.from('entry'));
    const dead = `${id}.999999999.1.tmp`; // no such process
    const live = `${id}.${process.pid}.2.tmp`;
    for (const name of [dead, live]) writeFileSync(join(dir, name), 'half written');
    expect(new ContentCache(dir, 1024).stats).toEqual({ entries: 0, bytes: 0 });
    expect(readdirSync(dir)).toEqual([live]);
  });

  it('concurrent gets of one id share one download', async () => {
    const sut = new ContentCache(null, 1024);
    const bytes = blob(10, 4);
    const download = jest.fn(() => Promise.resolve(bytes));
    await Promise.all([1, 2, 3].map(() => sut.get(sha(bytes), download)));
    expect(download).toHaveBeenCalledTimes(1);
  });
});
