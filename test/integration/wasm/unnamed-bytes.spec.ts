import { Test, TestingModule } from '@nestjs/testing';
import { utimes } from 'node:fs/promises';
import { DataSource } from 'typeorm';
import { ConfigModule } from '../../../src/config/config.module';
import { DatabaseModule } from '../../../src/database/database.module';
import { TransactionRunner } from '../../../src/database/transaction-runner';
import { ContentStore } from '../../../src/storage/content-store';
import { ModuleStoreService, UNNAMED_BYTES_GRACE_MS } from '../../../src/wasm/module-store.service';
import { ModuleSweeper } from '../../../src/wasm/module-sweeper';
import { WasmModule } from '../../../src/wasm/wasm.module';
import { WasmModulesRepository } from '../../../src/wasm/wasm-modules.repository';
import { MODULES, onPostgres, storedBytes, storedFile } from '../../support/content';
import { createTestEnv, describeEachDatabase, TestEnv } from '../../support/databases';
import { eventually } from '../../support/eventually';
import { sha256, uniqueFixture } from '../../support/wasm';

const HOUR_AND_A_BIT_MS = UNNAMED_BYTES_GRACE_MS + 60_000;

/**
 * Bytes a crash left between an upload's `put` and its row: the module sweep removes them once they are old
 * enough, and never those a row names or an upload of the same bytes is about to name.
 */
describeEachDatabase('stored module bytes no row names, on %s', (database) => {
  let env: TestEnv;
  let moduleRef: TestingModule;
  let ds: DataSource;
  let content: ContentStore;
  let store: ModuleStoreService;
  let rows: WasmModulesRepository;
  let tx: TransactionRunner;

  beforeAll(async () => {
    env = await createTestEnv(database);
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(env.config), DatabaseModule, WasmModule],
    }).compile();
    await moduleRef.init();
    ds = moduleRef.get(DataSource);
    content = moduleRef.select(WasmModule).get(ContentStore);
    store = moduleRef.get(ModuleStoreService);
    rows = moduleRef.get(WasmModulesRepository);
    tx = moduleRef.get(TransactionRunner);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await env?.dispose();
  });

  const stored = (id: string) => storedBytes(ds, env.config, MODULES, id);
  const named = async (id: string) => (await rows.findById(id)) !== null;
  /** Bytes stored as a crash after `put` leaves them: no row. */
  const orphan = async (bytes: Buffer) => content.put(bytes);
  /** Stored an hour and more ago: the row's time on PostgreSQL, the file's mtime on PGlite. */
  async function age(id: string): Promise<void> {
    const then = new Date(Date.now() - HOUR_AND_A_BIT_MS);
    if (onPostgres(ds)) {
      await ds.query(`UPDATE content_objects SET created_at = $3 WHERE namespace = $1 AND sha256 = $2`, [
        MODULES,
        id,
        then,
      ]);
    } else {
      await utimes(storedFile(ds, env.config, MODULES, id), then, then);
    }
  }

  it('removes old bytes no row names; keeps fresh ones and those a row names', async () => {
    const [old, fresh, module] = [1, 2, 3].map(() => uniqueFixture('echo'));
    const [oldId, freshId, moduleId] = [old, fresh, module].map((bytes) => sha256(bytes));
    await orphan(old);
    await orphan(fresh);
    await store.store(module, null);
    await age(oldId);
    await age(moduleId);

    expect(await moduleRef.get(ModuleSweeper).sweep()).toEqual({ modules: 0, unnamedBytes: 1 });
    expect([await stored(oldId), await stored(freshId), await stored(moduleId)]).toEqual([
      null,
      fresh,
      module,
    ]);
    // An hour on (the clock is the sweep's to be given): the fresh orphan's turn; the named module stays.
    expect(await store.collectUnnamedBytes(Date.now() + HOUR_AND_A_BIT_MS)).toBe(1);
    expect([await stored(freshId), await stored(moduleId)]).toEqual([null, module]);
    expect(await named(moduleId)).toBe(true);
  });

  it('bytes the sweep removes after an upload found them and before its row: the upload writes them again', async () => {
    const bytes = uniqueFixture('echo');
    const id = sha256(bytes);
    await orphan(bytes);
    await age(id);
    // The upload is held right after its `put` found the old copy (and kept it): the sweep runs then.
    let found!: () => void;
    const putDone = new Promise<void>((resolve) => (found = resolve));
    let release!: () => void;
    const proceed = new Promise<void>((resolve) => (release = resolve));
    const put = content.put.bind(content);
    const spy = jest.spyOn(content, 'put').mockImplementationOnce(async (given) => {
      const result = await put(given);
      found();
      await proceed;
      return result;
    });
    try {
      const upload = store.store(bytes, null);
      await putDone;
      expect(await store.collectUnnamedBytes()).toBe(1);
      expect(await stored(id)).toBeNull();
      release();
      expect((await upload).created).toBe(true);
    } finally {
      spy.mockRestore();
    }
    expect(await named(id)).toBe(true);
    expect(await stored(id)).toEqual(bytes);
    expect(await store.read(id)).toEqual(bytes);
  });

  it('a row being inserted under the bytes lock keeps a sweep waiting; the sweep then keeps the bytes', async () => {
    const bytes = uniqueFixture('echo');
    const id = sha256(bytes);
    await orphan(bytes);
    await age(id);
    // Held open: the transaction of an upload's row insert, bytes lock taken, row not yet committed.
    let locked!: () => void;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => (commit = resolve));
    const insert = tx.run(async () => {
      await rows.lockBytes(id);
      await rows.insertIfAbsent({
        moduleId: id,
        sizeBytes: bytes.length,
        imports: [],
        exports: [],
        uploadedBy: null,
      });
      locked();
      await committing;
    });
    await holding;
    const sweep = store.collectUnnamedBytes();
    if (onPostgres(ds)) {
      // The sweep's session waits on the advisory lock (PGlite has one session: it waits by construction).
      await eventually(
        async () => {
          const [{ n }] = await ds.query<{ n: number }[]>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
          );
          expect(n).toBe(1);
        },
        { timeoutMs: 10_000 },
      );
    }
    commit();
    await insert;
    expect(await sweep).toBe(0);
    expect(await stored(id)).toEqual(bytes);
  });
});
