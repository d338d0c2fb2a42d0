import { Test, TestingModule } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigModule } from '../../../src/config/config.module';
import { DatabaseModule } from '../../../src/database/database.module';
import { DatabaseSession, TransactionRunner } from '../../../src/database/transaction-runner';
import { ContentRepository } from '../../../src/storage/content.repository';
import { ContentIntegrityError, ContentUnavailableError } from '../../../src/storage/content-store';
import { FsContentStoreOptions } from '../../../src/storage/fs-content-store';
import { CHUNK_BYTES, PgContentStore } from '../../../src/storage/pg-content-store';
import { testConfig, TestConfig } from '../../support/config';
import { createTestDatabase, TestDatabase } from '../../support/postgres';
import { sha256 } from '../../support/wasm';

const SMALL_CHUNK = 4096;

/** Every file below `dir` and its size (the cache's whole footprint on disk). */
function filesBelow(dir: string): { path: string; size: number }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, String(name)))
    .filter((path) => statSync(path).isFile())
    .map((path) => ({ path, size: statSync(path).size }));
}
const diskBytes = (dir: string) => filesBelow(dir).reduce((sum, file) => sum + file.size, 0);

/** The PostgreSQL content store against a real database: chunks, one-transaction writes, verified reads, its cache. */
describe('PgContentStore on PostgreSQL', () => {
  let db: TestDatabase;
  let env: TestConfig;
  let moduleRef: TestingModule;
  let session: DatabaseSession;
  let transactions: TransactionRunner;
  let replicas = 0;

  const options = (extra: Partial<FsContentStoreOptions> = {}): FsContentStoreOptions => ({
    name: 'test-blobs',
    roots: [join(env.dataDir, 'roots', 'first'), join(env.dataDir, 'roots', 'operator')],
    layout: { shard: true, suffix: '' },
    maxBytes: 8 * 1024 * 1024,
    ...extra,
  });
  /** A store as one replica has it: its own cache directory, the shared database. */
  const replica = (cacheMaxBytes = 64 * 1024 * 1024, chunkBytes = SMALL_CHUNK, cacheDir?: string) =>
    PgContentStore.create(options(), {
      repository: new ContentRepository(session),
      transactions,
      cacheDir: cacheDir ?? join(env.dataDir, `replica-${replicas++}`),
      cacheMaxBytes,
      chunkBytes,
    });
  const cacheDirOf = (cacheDir: string) => join(cacheDir, 'test-blobs');
  const cachedFile = (cacheDir: string, id: string) => join(cacheDirOf(cacheDir), id.slice(0, 2), id);
  const rows = async (id: string) => {
    const [{ objects, chunks }] = await session.query<{ objects: number; chunks: number }>(
      `SELECT (SELECT count(*)::int FROM content_objects WHERE namespace = 'test-blobs' AND sha256 = $1) AS objects,
              (SELECT count(*)::int FROM content_chunks WHERE namespace = 'test-blobs' AND sha256 = $1) AS chunks`,
      [id],
    );
    return { objects, chunks };
  };
  const reason = (promise: Promise<unknown>) =>
    promise.then(
      () => 'accepted',
      (error: unknown) => {
        if (error instanceof ContentUnavailableError) return error.reason;
        throw error;
      },
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    env = testConfig({ DATABASE_URL: db.url });
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(env.config), DatabaseModule],
    }).compile();
    await moduleRef.init();
    session = moduleRef.get(DatabaseSession);
    transactions = moduleRef.get(TransactionRunner);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await db?.drop();
    env?.cleanup();
  });

  it('put, open, has and delete: the bytes round-trip through the database', async () => {
    const sut = await replica();
    const bytes = randomBytes(1000);
    const id = await sut.put(bytes);
    expect(id).toBe(sha256(bytes));
    expect(await rows(id)).toEqual({ objects: 1, chunks: 1 });
    expect((await sut.open(id)).equals(bytes)).toBe(true);
    await expect(sut.has(id)).resolves.toBe(true);
    await sut.delete(id);
    expect(await rows(id)).toEqual({ objects: 0, chunks: 0 });
    await expect(sut.has(id)).resolves.toBe(false);
    expect(await reason(sut.open(id))).toBe('missing');
    await sut.delete(id); // idempotent
  });

  it('exists: the database row alone (no chunk read, no read root); not after delete', async () => {
    const sut = await replica();
    const bytes = randomBytes(SMALL_CHUNK + 1);
    const id = await sut.put(bytes);
    await expect(sut.exists(id)).resolves.toBe(true);
    await expect((await replica()).exists(id)).resolves.toBe(true);
    await session.query(`DELETE FROM content_chunks WHERE namespace = 'test-blobs' AND sha256 = $1`, [id]);
    await expect(sut.exists(id)).resolves.toBe(true);
    await sut.delete(id);
    await expect(sut.exists(id)).resolves.toBe(false);

    // Readable here from an operator's root, but not stored for the other replicas.
    const only = randomBytes(300);
    const dir = join(env.dataDir, 'roots', 'operator', sha256(only).slice(0, 2));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, sha256(only)), only);
    await expect(sut.has(sha256(only))).resolves.toBe(true);
    await expect(sut.exists(sha256(only))).resolves.toBe(false);
    await expect(sut.exists('A'.repeat(64))).resolves.toBe(false);
  });

  it('another replica (its own cache) reads what one stored', async () => {
    const [a, b] = [await replica(), await replica()];
    const bytes = randomBytes(3000);
    const id = await a.put(bytes);
    expect(b.cache.bytes).toBe(0);
    expect((await b.open(id)).equals(bytes)).toBe(true);
    expect(b.cache.bytes).toBe(bytes.length);
  });

  it('splits an object larger than a chunk into ordered chunks, and reads it back whole', async () => {
    const sut = await replica();
    const bytes = randomBytes(SMALL_CHUNK * 2 + 123);
    const id = await sut.put(bytes);
    expect(await rows(id)).toEqual({ objects: 1, chunks: 3 });
    expect((await (await replica()).open(id)).equals(bytes)).toBe(true);
  });

  it('uses 1 MiB chunks by default', async () => {
    const sut = await replica(64 * 1024 * 1024, CHUNK_BYTES);
    const bytes = randomBytes(CHUNK_BYTES * 2 + 1);
    const id = await sut.put(bytes);
    expect(await rows(id)).toEqual({ objects: 1, chunks: 3 });
    expect((await (await replica(0, CHUNK_BYTES)).open(id)).equals(bytes)).toBe(true);
  });

  it('concurrent puts of the same bytes from two replicas all succeed, and store one object', async () => {
    const [a, b] = [await replica(), await replica()];
    const bytes = randomBytes(SMALL_CHUNK * 3);
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).put(bytes)));
    expect(new Set(ids)).toEqual(new Set([sha256(bytes)]));
    expect(await rows(sha256(bytes))).toEqual({ objects: 1, chunks: 3 });
    expect((await (await replica()).open(sha256(bytes))).equals(bytes)).toBe(true);
  });

  it('refuses a tampered chunk in the database (never served), and a put of the bytes repairs it', async () => {
    const bytes = randomBytes(SMALL_CHUNK * 2);
    const id = await (await replica()).put(bytes);
    expect((await (await replica()).open(id)).equals(bytes)).toBe(true); // negative control: intact reads

    await session.query(
      `UPDATE content_chunks SET bytes = $3 WHERE namespace = 'test-blobs' AND sha256 = $1 AND seq = $2`,
      [id, 1, randomBytes(SMALL_CHUNK)],
    );
    const cold = await replica();
    await expect(cold.open(id)).rejects.toBeInstanceOf(ContentIntegrityError);
    await expect(cold.has(id)).resolves.toBe(false);
    expect(cold.cache.bytes).toBe(0); // nothing unverified was cached

    await (await replica()).put(bytes);
    expect((await (await replica()).open(id)).equals(bytes)).toBe(true);
  });

  it('refuses a chunk longer than the recorded size', async () => {
    const bytes = randomBytes(100);
    const id = await (await replica()).put(bytes);
    await session.query(
      `UPDATE content_chunks SET bytes = $2 WHERE namespace = 'test-blobs' AND sha256 = $1`,
      [id, randomBytes(SMALL_CHUNK * 4)],
    );
    await expect((await replica()).open(id)).rejects.toBeInstanceOf(ContentIntegrityError);
  });

  it('a tampered cache file is not served: the bytes are read from the database again', async () => {
    const cacheDir = join(env.dataDir, 'tampered-cache');
    const sut = await replica(64 * 1024 * 1024, SMALL_CHUNK, cacheDir);
    const bytes = randomBytes(5000);
    const id = await sut.put(bytes);
    const file = cachedFile(cacheDir, id);
    expect(readFileSync(file).equals(bytes)).toBe(true); // the cached copy the test alters
    const tampered = Buffer.from(bytes);
    tampered[0] ^= 0xff;
    writeFileSync(file, tampered);

    const read = await sut.open(id);
    expect(read.equals(bytes)).toBe(true);
    expect(readFileSync(file).equals(bytes)).toBe(true); // the copy was replaced from the database
  });

  it('keeps the cache within its byte bound through many puts and opens, least recently used out first', async () => {
    const bound = 5 * 1000 + 500;
    const cacheDir = join(env.dataDir, 'bounded-cache');
    const writer = await replica(64 * 1024 * 1024);
    const sut = await replica(bound, SMALL_CHUNK, cacheDir);
    const objects = Array.from({ length: 20 }, () => randomBytes(1000));
    const ids: string[] = [];
    for (const bytes of objects) {
      ids.push(await (ids.length % 2 ? sut : writer).put(bytes));
      expect(diskBytes(cacheDirOf(cacheDir))).toBeLessThanOrEqual(bound);
    }
    for (const [i, id] of ids.entries()) {
      expect((await sut.open(id)).equals(objects[i])).toBe(true);
      expect((await sut.open(ids[0])).equals(objects[0])).toBe(true); // the first, kept recently used
      expect(diskBytes(cacheDirOf(cacheDir))).toBeLessThanOrEqual(bound);
    }
    expect(diskBytes(cacheDirOf(cacheDir))).toBe(5000); // full, not emptied
    expect(sut.cache.bytes).toBe(5000);
    expect(existsSync(cachedFile(cacheDir, ids[0]))).toBe(true);
    expect(existsSync(cachedFile(cacheDir, ids[1]))).toBe(false);

    // A restart counts what the last run left, and trims it to a smaller bound.
    const restarted = await replica(2500, SMALL_CHUNK, cacheDir);
    expect(restarted.cache.bytes).toBe(2000);
    expect(diskBytes(cacheDirOf(cacheDir))).toBe(2000);
  });

  it('caches nothing when the bound is 0, and still serves every read', async () => {
    const cacheDir = join(env.dataDir, 'no-cache');
    const sut = await replica(0, SMALL_CHUNK, cacheDir);
    const bytes = randomBytes(2000);
    const id = await sut.put(bytes);
    expect((await sut.open(id)).equals(bytes)).toBe(true);
    expect(filesBelow(cacheDirOf(cacheDir))).toEqual([]);
  });

  it('reads ids the database does not hold from the read roots (files from before PostgreSQL, operator-placed)', async () => {
    const sut = await replica();
    const bytes = randomBytes(700);
    const id = sha256(bytes);
    expect(await reason(sut.open(id))).toBe('missing');
    const dir = join(env.dataDir, 'roots', 'operator', id.slice(0, 2));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, id), bytes);
    expect((await sut.open(id)).equals(bytes)).toBe(true);
    expect(await rows(id)).toEqual({ objects: 0, chunks: 0 });
    // Storing the bytes puts them in the database, for every replica.
    await sut.put(bytes);
    expect(await rows(id)).toEqual({ objects: 1, chunks: 1 });
  });

  it('refuses malformed ids before any query, and objects over the size limit', async () => {
    const sut = await replica();
    for (const id of ['../../etc/passwd', 'A'.repeat(64), `${'0'.repeat(63)}\0`, '']) {
      expect(await reason(sut.open(id))).toBe('malformed_id');
      await expect(sut.has(id)).resolves.toBe(false);
    }
    await expect(sut.put(Buffer.alloc(8 * 1024 * 1024 + 1))).rejects.toBeInstanceOf(RangeError);
    const small = await PgContentStore.create(options({ maxBytes: 100 }), {
      repository: new ContentRepository(session),
      transactions,
      cacheDir: join(env.dataDir, 'small'),
      cacheMaxBytes: 1024,
    });
    const id = await (await replica()).put(randomBytes(200));
    expect(await reason(small.open(id))).toBe('too_large');
  });

  it('a put that fails mid-transaction leaves nothing visible', async () => {
    const sut = await replica();
    const bytes = randomBytes(SMALL_CHUNK * 2);
    const id = sha256(bytes);
    await expect(
      transactions.run(async () => {
        await sut.put(bytes);
        expect(await rows(id)).toEqual({ objects: 1, chunks: 2 }); // written, inside the transaction
        throw new Error('crash after the chunks were written');
      }),
    ).rejects.toThrow('crash after');
    expect(await rows(id)).toEqual({ objects: 0, chunks: 0 });
    expect(await reason((await replica()).open(id))).toBe('missing');
  });
});
