import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentCache } from '../../../src/storage/content-cache';
import { sha256 } from '../../support/wasm';

/** Every file below `dir` and its size (the cache's whole footprint on disk). */
const diskBytes = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true })
        .map((name) => join(dir, String(name)))
        .filter((path) => statSync(path).isFile())
        .reduce((sum, path) => sum + statSync(path).size, 0)
    : 0;

/** One replica's disk cache of shared content, on a real file system. */
describe('ContentCache', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vcp-content-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const cache = (budgetBytes: number) =>
    ContentCache.create({
      name: 'test',
      dir,
      layout: { shard: true, suffix: '' },
      maxObjectBytes: 1024 * 1024,
      budgetBytes,
    });

  it('a fault reading a copy (EMFILE) answers null, so the caller reads the database; the copy stays counted', async () => {
    const sut = await cache(10_000);
    const bytes = randomBytes(1000);
    await sut.store(sha256(bytes), bytes);
    // The file system fails this one read, as a process out of descriptors would.
    const files = (sut as unknown as { files: { open: (id: string) => Promise<Buffer> } }).files;
    const open = files.open.bind(files);
    files.open = () =>
      Promise.reject(Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' }));
    await expect(sut.read(sha256(bytes))).resolves.toBeNull();
    files.open = open;
    expect(sut.bytes).toBe(1000);
    expect(await sut.read(sha256(bytes))).toEqual(bytes);
  });

  it('concurrent stores stay within the budget: a copy evicted while it was being written does not stay on disk', async () => {
    const sut = await cache(2500);
    const objects = Array.from({ length: 8 }, () => randomBytes(1000));
    // Each store makes room, then writes; the next one's eviction picks the copy still being written.
    await Promise.all(objects.map((bytes) => sut.store(sha256(bytes), bytes)));
    expect(sut.bytes).toBe(2000);
    expect(diskBytes(dir)).toBe(sut.bytes);
    // What the cache counts is what it can serve: the two most recent.
    const served = await Promise.all(objects.map((bytes) => sut.read(sha256(bytes))));
    expect(served.map((bytes) => bytes !== null)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      true,
      true,
    ]);
  });
});
