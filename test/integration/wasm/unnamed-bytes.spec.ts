import { Test, TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { ConfigModule } from '../../../src/config/config.module';
import { DatabaseModule } from '../../../src/database/database.module';
import { TransactionRunner } from '../../../src/database/transaction-runner';
import { ContentStore } from '../../../src/storage/content-store';
import { ModuleStoreService } from '../../../src/wasm/module-store.service';
import { ModuleSweeper } from '../../../src/wasm/module-sweeper';
import { WasmModule } from '../../../src/wasm/wasm.module';
import { WasmModulesRepository } from '../../../src/wasm/wasm-modules.repository';
import { MODULES, storedBytes } from '../../support/content';
import { createTestEnv, describeEachDatabase, TestEnv } from '../../support/databases';
import {
  ageStored,
  holdNextPut,
  holdTransactionOpen,
  HOUR_AND_A_BIT_MS,
  untilWaitingOnAdvisoryLock,
} from '../../support/unnamed-bytes';
import { sha256, uniqueFixture } from '../../support/wasm';

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
  const age = (id: string) => ageStored(ds, env.config, MODULES, id);

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
    const held = holdNextPut(content);
    try {
      const upload = store.store(bytes, null);
      await held.done;
      expect(await store.collectUnnamedBytes()).toBe(1);
      expect(await stored(id)).toBeNull();
      held.release();
      expect((await upload).created).toBe(true);
    } finally {
      held.restore();
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
    const insert = holdTransactionOpen(tx, async () => {
      await rows.lockBytes(id);
      await rows.insertIfAbsent({
        moduleId: id,
        sizeBytes: bytes.length,
        imports: [],
        exports: [],
        uploadedBy: null,
      });
    });
    await insert.held;
    const sweep = store.collectUnnamedBytes();
    await untilWaitingOnAdvisoryLock(ds);
    insert.commit();
    await insert.committed;
    expect(await sweep).toBe(0);
    expect(await stored(id)).toEqual(bytes);
  });
});
