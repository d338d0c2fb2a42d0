import { TestingModule, Test } from '@nestjs/testing';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ConfigModule } from '../../../src/config/config.module';
import { DatabaseModule } from '../../../src/database/database.module';
import { ModuleIntegrityError, ModuleStoreService } from '../../../src/wasm/module-store.service';
import { ENGINE_LANE, WasmService } from '../../../src/wasm/wasm.service';
import { WasmModule } from '../../../src/wasm/wasm.module';
import {
  MODULES,
  onPostgres,
  storeDirectory,
  storedBytes,
  storedFile,
  swapStored,
} from '../../support/content';
import { createTestEnv, describeEachDatabase, TestEnv } from '../../support/databases';
import { fixture, sha256, uniqueFixture } from '../../support/wasm';

/** The module store through the real Nest module, on real PostgreSQL and on PGlite. */
describeEachDatabase('module store on %s', (database) => {
  let env: TestEnv;
  let moduleRef: TestingModule;
  let store: ModuleStoreService;
  let wasm: WasmService;
  let ds: DataSource;
  let userId: string;
  let root: string;
  let base: string;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'vcp-wasm-store-'));
    env = await createTestEnv(database, {
      WASM_MAX_MODULE_BYTES: String(64 * 1024),
      WASM_ALLOWED_ROOTS: join(base, 'modules-not-created-yet'),
    });
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(env.config), DatabaseModule, WasmModule],
    }).compile();
    await moduleRef.init();
    store = moduleRef.get(ModuleStoreService);
    wasm = moduleRef.get(WasmService);
    ds = moduleRef.get(DataSource);
    root = env.config.wasm.allowedRoots[0];
    [{ user_id: userId }] = await ds.query<{ user_id: string }[]>(
      `INSERT INTO users (username, password_hash) VALUES ('uploader', 'x') RETURNING user_id`,
    );
  });

  afterAll(async () => {
    await moduleRef?.close();
    await env?.dispose();
    rmSync(base, { recursive: true, force: true });
  });

  it('created the allowed root at boot', () => {
    expect(statSync(root).isDirectory()).toBe(true);
  });

  it('stores a module under its SHA-256, atomically, with a metadata row', async () => {
    const bytes = uniqueFixture('echo'); // new bytes, whatever was stored before
    const sut = await store.store(bytes, userId);
    expect(sut.created).toBe(true);
    expect(sut.record).toEqual(
      expect.objectContaining({ moduleId: sha256(bytes), sizeBytes: bytes.length, uploadedBy: userId }),
    );
    expect(sut.record.imports).toContainEqual({
      module: 'wasi_snapshot_preview1',
      name: 'fd_read',
      kind: 'function',
    });
    expect(sut.record.exports).toContainEqual({ name: '_start', kind: 'function' });
    expect(await storedBytes(ds, env.config, MODULES, sha256(bytes))).toEqual(bytes);
    expect(readFileSync(storedFile(ds, env.config, MODULES, sha256(bytes)))).toEqual(bytes);
    const dir = storeDirectory(ds, env.config, MODULES);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]); // no temporary file left
    expect(await store.metadata(sha256(bytes))).toEqual(sut.record);
  });

  it('deduplicates the same bytes: one row, one file, created=false', async () => {
    const bytes = uniqueFixture('exit_code');
    const first = await store.store(bytes, userId);
    const second = await store.store(bytes, null);
    expect([first.created, second.created]).toEqual([true, false]);
    expect(second.record).toEqual(first.record);
    const [{ n }] = await ds.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM wasm_modules WHERE module_id = $1`,
      [sha256(bytes)],
    );
    expect(n).toBe(1);
  });

  it('refuses a module over WASM_MAX_MODULE_BYTES with 413', async () => {
    const tooBig = Buffer.concat([fixture('echo'), Buffer.alloc(64 * 1024)]);
    await expect(store.store(tooBig, userId)).rejects.toMatchObject({ code: 'payload_too_large' });
  });

  it('refuses bytes that are not WebAssembly with 422', async () => {
    await expect(store.store(Buffer.from('#!/bin/sh\nrm -rf /\n'), userId)).rejects.toMatchObject({
      code: 'validation_error',
      message: 'wasm_module: is not a valid WebAssembly module',
      extra: { details: [{ field: 'wasm_module', message: 'is not a valid WebAssembly module' }] },
    });
    await expect(store.store(Buffer.alloc(0), userId)).rejects.toMatchObject({ code: 'validation_error' });
  });

  it('refuses a non-WASI import with 422 naming the import, and stores nothing', async () => {
    const bytes = fixture('host_import');
    await expect(store.store(bytes, userId)).rejects.toMatchObject({
      code: 'validation_error',
      message: expect.stringContaining('"env.host_escape"'),
    });
    expect(existsSync(storedFile(ds, env.config, MODULES, sha256(bytes)))).toBe(false);
    expect(await storedBytes(ds, env.config, MODULES, sha256(bytes))).toBeNull();
    await expect(store.metadata(sha256(bytes))).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses WASIX functions that start another module or thread (422 naming the import); other WASIX passes', async () => {
    const spawner = fixture('wasix_spawn');
    await expect(store.store(spawner, userId)).rejects.toMatchObject({
      code: 'validation_error',
      message: expect.stringContaining('"wasix_32v1.proc_spawn"'),
    });
    // Negative control: the same module importing another WASIX function (a name of the same length) is stored.
    const other = Buffer.from(spawner.toString('latin1').replace('proc_spawn', 'proc_idle_'), 'latin1');
    await expect(store.store(other, userId)).resolves.toMatchObject({ record: { moduleId: sha256(other) } });
  });

  it('answers 404 for unknown and malformed ids', async () => {
    await expect(store.metadata('0'.repeat(64))).rejects.toMatchObject({ code: 'not_found' });
    await expect(store.metadata('../../etc/passwd')).rejects.toMatchObject({ code: 'not_found' });
    await expect(store.read('%2e%2e%2fetc%2fpasswd')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('runs a stored module by id', async () => {
    const { record } = await store.store(fixture('echo'), userId);
    const sut = await wasm.run(record.moduleId, { inputs: { via: 'store' } }, ENGINE_LANE);
    expect(sut).toEqual(
      expect.objectContaining({ outcome: 'ok', stdout: { via: 'store' }, module_hash: record.moduleId }),
    );
  });

  it('refuses to run or download content swapped after upload, and a re-upload repairs it', async () => {
    const bytes = fixture('trap');
    const { record } = await store.store(bytes, userId);
    await swapStored(ds, env.config, MODULES, record.moduleId, fixture('loop'));
    await expect(wasm.run(record.moduleId, { inputs: null }, ENGINE_LANE)).rejects.toBeInstanceOf(
      ModuleIntegrityError,
    );
    await expect(store.read(record.moduleId)).rejects.toBeInstanceOf(ModuleIntegrityError);
    expect((await store.store(bytes, userId)).created).toBe(false);
    expect(sha256(await store.read(record.moduleId))).toBe(record.moduleId);
  });

  it('never follows a symlink planted in place of a stored file out of its directory', async () => {
    const bytes = fixture('flood');
    const { record } = await store.store(bytes, userId);
    const file = storedFile(ds, env.config, MODULES, record.moduleId);
    const outside = join(base, `${record.moduleId}.wasm`);
    writeFileSync(outside, bytes); // the right bytes, but outside every allowed root
    await unlink(file);
    await symlink(outside, file);
    if (onPostgres(ds)) {
      // The file is only this replica's cache: refused, dropped, and the module read from the database.
      expect(sha256(await store.read(record.moduleId))).toBe(record.moduleId);
      expect(lstatSync(file).isSymbolicLink()).toBe(false);
    } else {
      await expect(store.read(record.moduleId)).rejects.toMatchObject({
        code: 'not_found',
        message: 'Module not found',
      });
      expect((await store.store(bytes, userId)).created).toBe(false);
    }
    expect(sha256(await store.read(record.moduleId))).toBe(record.moduleId);
  });

  it('keeps the module when its uploader is deleted (uploaded_by → NULL)', async () => {
    const [{ user_id }] = await ds.query<{ user_id: string }[]>(
      `INSERT INTO users (username, password_hash) VALUES ('leaver', 'x') RETURNING user_id`,
    );
    const { record } = await store.store(fixture('clock_random'), user_id);
    await ds.query(`DELETE FROM users WHERE user_id = $1`, [user_id]);
    expect((await store.metadata(record.moduleId)).uploadedBy).toBeNull();
  });
});
