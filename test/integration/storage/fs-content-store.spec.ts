import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentIntegrityError, ContentUnavailableError } from '../../../src/storage/content-store';
import { FsContentStore, FsContentStoreOptions } from '../../../src/storage/fs-content-store';
import { fixture, sha256 } from '../../support/wasm';

const MiB = 1024 * 1024;

/** The file system content store on a real file system: verified reads, its cache, atomic writes, layouts. */
describe('FsContentStore', () => {
  let base: string;
  let root: string;
  let secondRoot: string;
  let sut: FsContentStore;
  const echo = fixture('echo');
  const echoId = sha256(echo);
  const flat = (roots: string[], extra: Partial<FsContentStoreOptions> = {}) =>
    FsContentStore.create({
      name: 'test',
      roots,
      layout: { shard: false, suffix: '.wasm' },
      maxBytes: MiB,
      ...extra,
    });
  const at = (id: string, dir = root) => join(dir, `${id}.wasm`);
  const reason = (promise: Promise<unknown>) =>
    promise.then(
      () => 'accepted',
      (error: unknown) => {
        if (error instanceof ContentUnavailableError) return error.reason;
        throw error;
      },
    );

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'vcp-content-store-'));
    mkdirSync(join(base, 'outside'));
    writeFileSync(join(base, 'outside', 'secret.wasm'), fixture('env'));
    mkdirSync(join(base, 'real-root'));
    symlinkSync(join(base, 'real-root'), join(base, 'linked-root'));
    sut = await flat([join(base, 'linked-root'), join(base, 'second')]);
    [root, secondRoot] = [join(base, 'real-root'), join(base, 'second')];
    writeFileSync(at(echoId), echo);
  });

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('reads a stored file once and verifies its hash', async () => {
    expect(sha256(await sut.open(echoId))).toBe(echoId);
    await expect(sut.has(echoId)).resolves.toBe(true);
  });

  it('looks in every root in order, and answers "missing" when no root has the file', async () => {
    const id = sha256(fixture('tiny'));
    writeFileSync(at(id, secondRoot), fixture('tiny'));
    expect(sha256(await sut.open(id))).toBe(id);
    expect(await reason(sut.open('0'.repeat(64)))).toBe('missing');
    await expect(sut.has('0'.repeat(64))).resolves.toBe(false);
  });

  it('exists: a file under the id in any root, by its presence alone; not after delete, nor a symlink out', async () => {
    const bytes = randomBytes(4096);
    const id = await sut.put(bytes);
    await expect(sut.exists(id)).resolves.toBe(true);
    // Neither read nor hashed: a corrupt copy is still there (open refuses it, put replaces it).
    writeFileSync(at(id), randomBytes(4096));
    await expect(sut.exists(id)).resolves.toBe(true);
    await expect(sut.has(id)).resolves.toBe(false);
    await sut.delete(id);
    await expect(sut.exists(id)).resolves.toBe(false);

    const inSecond = randomBytes(100);
    writeFileSync(at(sha256(inSecond), secondRoot), inSecond);
    await expect(sut.exists(sha256(inSecond))).resolves.toBe(true);
    symlinkSync(join(base, 'outside', 'secret.wasm'), at(id));
    await expect(sut.exists(id)).resolves.toBe(false);
    for (const malformed of ['../../etc/passwd', 'A'.repeat(64), '']) {
      await expect(sut.exists(malformed)).resolves.toBe(false);
    }
  });

  it.each([['../../etc/passwd'], ['A'.repeat(64)], [`${'0'.repeat(63)}\0`], [''], ['%2e%2e']])(
    'refuses the malformed id %j before touching the file system',
    async (id) => {
      expect(await reason(sut.open(id))).toBe('malformed_id');
      await expect(sut.has(id)).resolves.toBe(false);
    },
  );

  it('refuses a symlink planted inside a root that points out, even to the right bytes', async () => {
    const id = sha256(fixture('env'));
    symlinkSync(join(base, 'outside', 'secret.wasm'), at(id));
    expect(await reason(sut.open(id))).toBe('symlink_escape');
  });

  it('refuses a file swapped after it was stored (hash mismatch)', async () => {
    const id = sha256(fixture('trap'));
    writeFileSync(at(id), fixture('trap'));
    await expect(sut.open(id)).resolves.toHaveLength(fixture('trap').length);
    writeFileSync(at(id), fixture('loop')); // swapped behind the store's back
    await expect(sut.open(id)).rejects.toBeInstanceOf(ContentIntegrityError);
    await expect(sut.has(id)).resolves.toBe(false);
  });

  it('serves a warm read from memory while the file is unchanged: the same verified bytes', async () => {
    const id = sha256(fixture('exit_code'));
    writeFileSync(at(id), fixture('exit_code'));
    const first = await sut.open(id);
    await expect(sut.open(id)).resolves.toBe(first);
  });

  it('keeps nothing in memory when the cache budget is 0', async () => {
    const uncached = await flat([root], { verifiedCacheBytes: 0 });
    const first = await uncached.open(echoId);
    const second = await uncached.open(echoId);
    expect(second).not.toBe(first);
    expect(second.equals(first)).toBe(true);
  });

  it('reads again, and refuses, a verified file replaced by rename with bytes of the same size', async () => {
    const original = fixture('recursion');
    const id = sha256(original);
    writeFileSync(at(id), original);
    await expect(sut.open(id)).resolves.toHaveLength(original.length);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1] ^= 0xff;
    writeFileSync(join(root, 'tampered.tmp'), tampered);
    renameSync(join(root, 'tampered.tmp'), at(id)); // new inode, same size
    await expect(sut.open(id)).rejects.toBeInstanceOf(ContentIntegrityError);
  });

  it('refuses a symlink put in place of a verified file', async () => {
    const id = sha256(fixture('flood'));
    writeFileSync(at(id), fixture('flood'));
    await expect(sut.open(id)).resolves.toHaveLength(fixture('flood').length);
    unlinkSync(at(id));
    symlinkSync(join(base, 'outside', 'secret.wasm'), at(id));
    expect(await reason(sut.open(id))).toBe('symlink_escape');
  });

  it('refuses a file larger than the store limit, and a directory', async () => {
    const small = await flat([root], { maxBytes: 100 });
    expect(await reason(small.open(echoId))).toBe('too_large');
    await expect(small.put(echo)).rejects.toBeInstanceOf(RangeError);
    const id = sha256(fixture('read_file'));
    mkdirSync(at(id));
    expect(await reason(sut.open(id))).toBe('not_a_file');
  });

  it('writes atomically to the first root: 0600, no temporary file left, then verifies', async () => {
    const bytes = fixture('write_file');
    const id = await sut.put(bytes);
    expect(id).toBe(sha256(bytes));
    expect(readFileSync(at(id)).equals(bytes)).toBe(true);
    expect(statSync(at(id)).mode & 0o777).toBe(0o600);
    expect(readdirSync(root).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await expect(sut.has(id)).resolves.toBe(true);
  });

  it('keeps a copy that verifies (same file), and rewrites a corrupt one', async () => {
    const bytes = fixture('clock_random');
    const id = await sut.put(bytes);
    const inode = statSync(at(id)).ino;
    await expect(sut.put(bytes)).resolves.toBe(id);
    expect(statSync(at(id)).ino).toBe(inode);
    writeFileSync(at(id), fixture('loop'));
    await expect(sut.put(bytes)).resolves.toBe(id);
    expect(readFileSync(at(id)).equals(bytes)).toBe(true);
    expect(sha256(await sut.open(id))).toBe(id);
  });

  it('a copy in a later root counts as stored: nothing is written to the first', async () => {
    const bytes = fixture('memory_bomb');
    writeFileSync(at(sha256(bytes), secondRoot), bytes);
    await sut.put(bytes);
    expect(existsSync(at(sha256(bytes)))).toBe(false);
  });

  describe('sharded layout', () => {
    let shardedRoot: string;
    let sharded: FsContentStore;

    beforeAll(async () => {
      shardedRoot = join(base, 'sharded');
      sharded = await FsContentStore.create({
        name: 'sharded',
        roots: [shardedRoot],
        layout: { shard: true, suffix: '' },
        maxBytes: MiB,
      });
    });

    it('stores `<root>/<first two hex>/<sha256>` in a 0700 directory, and reads it back', async () => {
      const id = await sharded.put(echo);
      const dir = join(shardedRoot, id.slice(0, 2));
      expect(readFileSync(join(dir, id)).equals(echo)).toBe(true);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(readdirSync(dir)).toEqual([id]);
      await expect(sharded.open(id)).resolves.toEqual(echo);
    });

    it('at create, removes the temporary files of interrupted writes older than an hour, nothing else', async () => {
      const dir = join(shardedRoot, 'ab');
      mkdirSync(dir, { recursive: true });
      const temporary = (tag: string) => join(dir, `.${'ab'.repeat(32)}.${tag.repeat(8)}.tmp`);
      const [stale, fresh, object] = [temporary('0a'), temporary('0b'), join(dir, 'ab'.repeat(32))];
      const other = join(dir, '.not-ours.tmp');
      for (const path of [stale, fresh, object, other]) writeFileSync(path, 'x');
      const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
      for (const path of [stale, object, other]) utimesSync(path, twoHoursAgo, twoHoursAgo);
      await FsContentStore.create({
        name: 'sharded',
        roots: [shardedRoot],
        layout: { shard: true, suffix: '' },
        maxBytes: MiB,
      });
      expect([stale, fresh, object, other].map((path) => existsSync(path))).toEqual([
        false,
        true,
        true,
        true,
      ]);
    });

    it('refuses to write through a shard directory that is a symlink out of the root', async () => {
      const bytes = fixture('trap');
      const id = sha256(bytes);
      const outside = join(base, 'outside-shard');
      mkdirSync(outside);
      chmodSync(outside, 0o700);
      const link = join(shardedRoot, id.slice(0, 2));
      symlinkSync(outside, link);
      try {
        expect(await reason(sharded.put(bytes))).toBe('symlink_escape');
        expect(readdirSync(outside)).toEqual([]);
      } finally {
        // The root is shared by this describe's tests: a later put whose id has this prefix (random bytes, 1 in
        // 256 each) would otherwise meet the link and be refused.
        unlinkSync(link);
      }
    });

    it('lists the objects written before a time (mtime), in every shard, not temporaries or strangers', async () => {
      const [old, fresh] = [randomBytes(64), randomBytes(64)];
      const [oldId, freshId] = [await sharded.put(old), await sharded.put(fresh)];
      const then = new Date(Date.now() - 2 * 60 * 60 * 1000);
      utimesSync(join(shardedRoot, oldId.slice(0, 2), oldId), then, then);
      const dir = join(shardedRoot, 'cd');
      mkdirSync(dir, { recursive: true });
      for (const name of [
        `.${'cd'.repeat(32)}.${'0a'.repeat(8)}.tmp`,
        `${'cd'.repeat(32)}.bak`,
        'CD'.repeat(32),
      ]) {
        writeFileSync(join(dir, name), 'x');
        utimesSync(join(dir, name), then, then);
      }
      const listed = await sharded.storedBefore(Date.now() - 60 * 60 * 1000);
      expect(listed).toContain(oldId);
      expect(listed).not.toContain(freshId);
      expect(listed.filter((id) => id !== oldId && /^cd|^CD/.test(id))).toEqual([]);
    });
  });
});
