import { Test, TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import type { Principal } from '../../../src/common/auth/principal';
import * as sha256OffModule from '../../../src/common/crypto/sha256-off';
import { AppException } from '../../../src/common/errors/app.exception';
import { ConfigModule } from '../../../src/config/config.module';
import { DatabaseModule } from '../../../src/database/database.module';
import { ModuleOwnershipService } from '../../../src/wasm/module-ownership.service';
import { ModuleSweeper, UNHELD_GRACE_SECS } from '../../../src/wasm/module-sweeper';
import { WasmModule } from '../../../src/wasm/wasm.module';
import { MODULES, storedBytes } from '../../support/content';
import { createTestEnv, describeEachDatabase, TestEnv } from '../../support/databases';
import { sha256, uniqueFixture } from '../../support/wasm';

const ECHO_SIZE = uniqueFixture('echo').length;
const META = { ip: null, userAgent: null, requestId: null };

/** Ownership, quota and collection through the real Nest module, on PostgreSQL and on PGlite. */
describeEachDatabase('module ownership on %s', (database) => {
  let env: TestEnv;
  let moduleRef: TestingModule;
  let sut: ModuleOwnershipService;
  let ds: DataSource;
  let n = 0;

  beforeAll(async () => {
    env = await createTestEnv(database, { MODULE_STORAGE_QUOTA_BYTES: String(Math.floor(ECHO_SIZE * 2.5)) });
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(env.config), DatabaseModule, WasmModule],
    }).compile();
    await moduleRef.init();
    sut = moduleRef.get(ModuleOwnershipService);
    ds = moduleRef.get(DataSource);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await env?.dispose();
  });

  const newUser = async (): Promise<Principal> => {
    const [{ user_id }] = await ds.query<{ user_id: string }[]>(
      `INSERT INTO users (username, password_hash) VALUES ($1, 'x') RETURNING user_id`,
      [`owner_${database}_${n++}`],
    );
    return { userId: user_id, username: 'u', role: 'user', scopes: [], authMethod: 'jwt' };
  };
  /** Whether the module's bytes are stored (database rows on PostgreSQL, a file on PGlite). */
  const stored = async (id: string) => (await storedBytes(ds, env.config, MODULES, id)) !== null;
  const quotaRefusal = (error: unknown) =>
    error instanceof AppException && error.publicReason === 'storage_quota_exceeded';

  it('concurrent uploads at the edge of the quota: exactly the ones that fit are stored', async () => {
    const user = await newUser();
    const modules = [uniqueFixture('echo'), uniqueFixture('echo'), uniqueFixture('echo')];
    const results = await Promise.allSettled(modules.map((bytes) => sut.upload(bytes, user, META, 'upload')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect(quotaRefusal(refused[0].reason)).toBe(true);
    expect(await sut.usage(user.userId)).toEqual({ bytes: modules[0].length * 2, modules: 2 });
    // The refused bytes are not left stored, whichever upload lost.
    const kept = await Promise.all(modules.map((bytes) => stored(sha256(bytes))));
    expect(kept.filter(Boolean)).toHaveLength(2);
  });

  it('an upload hashes its bytes once, new or known, and stores them under that hash', async () => {
    const user = await newUser();
    const bytes = uniqueFixture('echo');
    const hashes = jest.spyOn(sha256OffModule, 'sha256Off');
    try {
      expect((await sut.upload(bytes, user, META, 'upload')).created).toBe(true);
      expect(hashes).toHaveBeenCalledTimes(1);
      expect(await storedBytes(ds, env.config, MODULES, sha256(bytes))).toEqual(bytes);
      hashes.mockClear();
      expect((await sut.upload(bytes, await newUser(), META, 'upload')).created).toBe(false);
      expect(hashes).toHaveBeenCalledTimes(1);
    } finally {
      hashes.mockRestore();
    }
  });

  it('a live task keeps the module after its owner deletes it; once the task is deleted, collection removes it', async () => {
    const user = await newUser();
    const bytes = uniqueFixture('echo');
    const id = sha256(bytes);
    await sut.upload(bytes, user, META, 'upload');
    const [{ task_id }] = await ds.query<{ task_id: string }[]>(
      `INSERT INTO tasks (creator_id, task_type, max_execution_time_sec, module_id)
       VALUES ($1, 'wasm_execution', 60, $2) RETURNING task_id`,
      [user.userId, id],
    );
    await sut.remove(user, id, META);
    expect(await stored(id)).toBe(true);
    expect(await ds.query(`SELECT 1 FROM wasm_modules WHERE module_id = $1`, [id])).toHaveLength(1);
    await sut.collect(id); // still held by the live task: nothing happens
    expect(await stored(id)).toBe(true);

    await ds.query(`UPDATE tasks SET deleted_at = now() WHERE task_id = $1`, [task_id]);
    await sut.collect(id);
    expect(await stored(id)).toBe(false);
    expect(await ds.query(`SELECT 1 FROM wasm_modules WHERE module_id = $1`, [id])).toHaveLength(0);
    // The deleted task forgets the module it ran (it can never run again).
    expect(await ds.query(`SELECT module_id FROM tasks WHERE task_id = $1`, [task_id])).toEqual([
      { module_id: null },
    ]);
  });

  it('a sweep collects a module a delete left when the process ended before its collect, and nothing held or fresh', async () => {
    const user = await newUser();
    const [left, fresh, owned, running] = [1, 2, 3, 4].map(() => uniqueFixture('echo'));
    const ids = [left, fresh, owned, running].map((bytes) => sha256(bytes));
    // One user each: the quota here holds two modules.
    for (const bytes of [left, fresh, owned]) await sut.upload(bytes, await newUser(), META, 'upload');
    await sut.upload(running, user, META, 'upload');
    await ds.query(
      `INSERT INTO tasks (creator_id, task_type, max_execution_time_sec, module_id)
       VALUES ($1, 'wasm_execution', 60, $2)`,
      [user.userId, ids[3]],
    );
    // The delete's transaction committed (ownership gone); its collect never ran.
    await ds.query(`DELETE FROM module_owners WHERE module_id = ANY($1)`, [[ids[0], ids[1], ids[3]]]);
    // All but `fresh` are past the grace an upload in flight is given.
    await ds.query(
      `UPDATE wasm_modules SET created_at = now() - ($2 + 60) * interval '1 second' WHERE module_id = ANY($1)`,
      [[ids[0], ids[2], ids[3]], UNHELD_GRACE_SECS],
    );
    const sweeper = moduleRef.get(ModuleSweeper);
    expect(await sweeper.sweep()).toEqual({ modules: 1, unnamedBytes: 0 });
    expect(await Promise.all(ids.map(stored))).toEqual([false, true, true, true]);
    expect(await ds.query(`SELECT 1 FROM wasm_modules WHERE module_id = $1`, [ids[0]])).toHaveLength(0);
    expect(await sweeper.sweep()).toEqual({ modules: 0, unnamedBytes: 0 });
  });

  it('an upload after a delete of the same bytes stores them again', async () => {
    const user = await newUser();
    const bytes = uniqueFixture('echo');
    const id = sha256(bytes);
    await sut.upload(bytes, user, META, 'upload');
    await sut.remove(user, id, META);
    expect(await stored(id)).toBe(false);
    const again = await sut.upload(bytes, user, META, 'upload');
    expect(again.created).toBe(true);
    expect(await stored(id)).toBe(true);
  });
});
