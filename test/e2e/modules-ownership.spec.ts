import { DataSource } from 'typeorm';
import { programNamed } from '../../src/programs/program-catalog';
import { ModuleOwnershipService } from '../../src/wasm/module-ownership.service';
import { useAdminApp } from '../support/admin';
import { bearer, newSession, Session } from '../support/auth';
import { MODULES, storedBytes } from '../support/content';
import { ORIGINAL_TASK } from '../support/tasks';
import { sha256, uniqueFixture } from '../support/wasm';

const ECHO_SIZE = uniqueFixture('echo').length;

/**
 * Issue 13, row 4: modules as users hold them — their list, DELETE /modules/:id, the storage quota, and how
 * long the bytes stay on disk (while an owner or a live task holds them).
 */
describe('module ownership, deletion and storage quota', () => {
  const ctx = useAdminApp({
    env: {
      // Room for two echo-sized modules per user, not three; and at most four modules whatever their size.
      MODULE_STORAGE_QUOTA_BYTES: String(Math.floor(ECHO_SIZE * 2.5)),
      MODULE_STORAGE_QUOTA_COUNT: '4',
      WASM_DEFAULT_RUNTIME: 'v8',
    },
  });
  let n = 0;
  const user = () => newSession(ctx.app, `owner${n++}`);

  const call = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    session: Session | string,
    payload?: object,
  ) =>
    ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: bearer(typeof session === 'string' ? session : session.accessToken),
      payload,
    });
  const upload = (session: Session, bytes: Buffer) =>
    ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...bearer(session.accessToken), 'content-type': 'application/wasm' },
      payload: bytes,
    });
  const listed = async (session: Session) =>
    (await call('GET', '/modules?limit=100', session))
      .json<{ items: { module_id: string }[] }>()
      .items.map((item) => item.module_id);
  /** Whether the module's bytes are stored (database rows on PostgreSQL, a file on PGlite). */
  const stored = async (id: string) =>
    (await storedBytes(ctx.app.get(DataSource), ctx.env.config, MODULES, id)) !== null;
  const wasmTask = (moduleId: string) => ({
    ...ORIGINAL_TASK,
    task_type: 'wasm_execution',
    module_id: moduleId,
  });

  it('lists the caller’s modules only, newest first, with when they took it', async () => {
    const [alice, bob] = [await user(), await user()];
    const first = uniqueFixture('echo');
    const second = uniqueFixture('trap');
    expect((await upload(alice, first)).statusCode).toBe(201);
    expect((await upload(alice, second)).statusCode).toBe(201);
    const page = (await call('GET', '/modules', alice)).json<{ items: Record<string, unknown>[] }>();
    expect(page.items.map((item) => item.module_id)).toEqual([sha256(second), sha256(first)]);
    expect(page.items[0]).toMatchObject({ size_bytes: second.length, owned_since: expect.any(String) });
    expect(await listed(bob)).toEqual([]);
  });

  it('the owner deletes: gone from their list, GET 404, bytes deleted, audited', async () => {
    const alice = await user();
    const bytes = uniqueFixture('echo');
    const id = sha256(bytes);
    await upload(alice, bytes);
    expect(await stored(id)).toBe(true);
    const res = await call('DELETE', `/modules/${id}`, alice);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ message: 'Module deleted', module_id: id });
    expect(await listed(alice)).not.toContain(id);
    expect((await call('GET', `/modules/${id}`, alice)).statusCode).toBe(404);
    expect(await stored(id)).toBe(false);
    expect((await call('DELETE', `/modules/${id}`, alice)).statusCode).toBe(404); // once only
    const audit = await call(
      'GET',
      '/admin/audit-log?limit=100&action=module.deleted',
      ctx.admin.accessToken,
    );
    const row = audit.json<{ items: Record<string, unknown>[] }>().items.find((r) => r.resource_id === id);
    expect(row).toMatchObject({
      user_id: alice.userId,
      metadata: expect.objectContaining({ bytes_deleted: true }),
    });
  });

  it('someone else’s module is a 404 like an unknown one, and stays', async () => {
    const [alice, bob] = [await user(), await user()];
    const bytes = uniqueFixture('echo');
    const id = sha256(bytes);
    await upload(alice, bytes);
    for (const target of [id, 'f'.repeat(64), 'not-a-hash']) {
      const res = await call('DELETE', `/modules/${target}`, bob);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: 'not_found', message: 'Module not found' });
    }
    expect(await listed(alice)).toContain(id);
    expect((await call('GET', `/modules/${id}`, bob)).statusCode).toBe(200);
    expect(await stored(id)).toBe(true);
  });

  it('bytes two users uploaded stay until both have deleted them', async () => {
    const [alice, bob] = [await user(), await user()];
    const bytes = uniqueFixture('echo');
    const id = sha256(bytes);
    expect((await upload(alice, bytes)).statusCode).toBe(201);
    expect((await upload(bob, bytes)).statusCode).toBe(200);
    expect((await call('DELETE', `/modules/${id}`, alice)).statusCode).toBe(200);
    expect(await listed(alice)).not.toContain(id);
    expect(await listed(bob)).toContain(id);
    expect(await stored(id)).toBe(true);
    expect((await call('DELETE', `/modules/${id}`, bob)).statusCode).toBe(200);
    expect(await stored(id)).toBe(false);
  });

  it('bytes a live task runs are kept after the delete, and go with the task', async () => {
    const alice = await user();
    const bytes = uniqueFixture('echo');
    const id = sha256(bytes);
    await upload(alice, bytes);
    const task = await call('POST', '/tasks', alice, wasmTask(id));
    expect(task.statusCode).toBe(201);
    expect((await call('DELETE', `/modules/${id}`, alice)).statusCode).toBe(200);
    expect(await listed(alice)).not.toContain(id);
    expect(await stored(id)).toBe(true);
    expect((await call('GET', `/modules/${id}`, alice)).statusCode).toBe(200); // nodes can still fetch it
    expect((await call('DELETE', `/tasks/${task.json().task_id}`, alice)).statusCode).toBe(200);
    expect(await stored(id)).toBe(false);
    expect((await call('GET', `/modules/${id}`, alice)).statusCode).toBe(404);
  });

  it('a task naming a module deleted while it is being submitted is a 422 on module_id, not a 500', async () => {
    const alice = await user();
    const bytes = uniqueFixture('echo');
    const id = sha256(bytes);
    await upload(alice, bytes);
    // The delete commits between the submission's checks and its insert (the foreign key then refuses the row).
    const ownership = ctx.app.get(ModuleOwnershipService);
    jest.spyOn(ownership, 'assertCanRun').mockImplementationOnce(async (...args) => {
      const isNew = await ModuleOwnershipService.prototype.assertCanRun.apply(ownership, args);
      expect((await call('DELETE', `/modules/${id}`, alice)).statusCode).toBe(200);
      return isNew;
    });
    const task = await call('POST', '/tasks', alice, wasmTask(id));
    expect(task.json()).toMatchObject({
      error: 'validation_error',
      details: [{ field: 'module_id', message: 'no stored module has this id' }],
    });
    expect(task.statusCode).toBe(422);
    expect(await stored(id)).toBe(false);
  });

  it('an admin may delete anyone’s module: out of every list, bytes gone', async () => {
    const [alice, bob] = [await user(), await user()];
    const bytes = uniqueFixture('echo');
    const id = sha256(bytes);
    await upload(alice, bytes);
    await upload(bob, bytes);
    expect((await call('DELETE', `/modules/${id}`, ctx.admin.accessToken)).statusCode).toBe(200);
    expect(await listed(alice)).not.toContain(id);
    expect(await listed(bob)).not.toContain(id);
    expect(await stored(id)).toBe(false);
    expect((await call('DELETE', `/modules/${'e'.repeat(64)}`, ctx.admin.accessToken)).statusCode).toBe(404);
  });

  it('a built-in program’s module is refused even to an admin: 403, bytes and owners stay, nothing audited', async () => {
    const alice = await user();
    const id = programNamed('expression')!.sha256;
    // As if alice had uploaded the program's bytes herself.
    await ctx.dataSource.query(`INSERT INTO module_owners (user_id, module_id) VALUES ($1, $2)`, [
      alice.userId,
      id,
    ]);
    const res = await call('DELETE', `/modules/${id}`, ctx.admin.accessToken);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: 'forbidden', message: 'Built-in programs cannot be deleted' });
    expect(await stored(id)).toBe(true);
    expect(await listed(alice)).toContain(id);
    const [{ n }] = await ctx.dataSource.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'module.deleted' AND resource_id = $1`,
      [id],
    );
    expect(n).toBe(0);
    // Her own delete only takes it out of her list.
    expect((await call('DELETE', `/modules/${id}`, alice)).statusCode).toBe(200);
    expect(await listed(alice)).not.toContain(id);
    expect(await stored(id)).toBe(true);
  });

  describe('storage quota', () => {
    const refusedForQuota = (res: { statusCode: number; json: () => Record<string, unknown> }) => {
      expect(res.statusCode).toBe(413);
      expect(res.json()).toMatchObject({
        error: 'payload_too_large',
        reason: 'storage_quota_exceeded',
        message: expect.stringContaining('quota'),
        quota: { max_bytes: Math.floor(ECHO_SIZE * 2.5), max_modules: 4 },
      });
    };

    it('refuses an upload past the quota (nothing written), counts re-uploads once, frees on delete', async () => {
      const carol = await user();
      const [a, b, c] = [uniqueFixture('echo'), uniqueFixture('echo'), uniqueFixture('echo')];
      expect((await upload(carol, a)).statusCode).toBe(201);
      expect((await upload(carol, b)).statusCode).toBe(201);
      const refused = await upload(carol, c);
      refusedForQuota(refused);
      expect(refused.json().quota).toMatchObject({ used_bytes: a.length + b.length, used_modules: 2 });
      expect(await stored(sha256(c))).toBe(false);
      // The same bytes again are already charged: accepted, and the usage does not change.
      expect((await upload(carol, a)).statusCode).toBe(200);
      expect((await call('GET', '/modules/usage', carol)).json()).toEqual({
        used_bytes: a.length + b.length,
        used_modules: 2,
        max_bytes: Math.floor(ECHO_SIZE * 2.5),
        max_modules: 4,
      });
      expect((await call('DELETE', `/modules/${sha256(a)}`, carol)).statusCode).toBe(200);
      expect((await upload(carol, c)).statusCode).toBe(201);
    });

    it('holds for modules stored through a task, and for tasks that run someone else’s module', async () => {
      const [dave, erin] = [await user(), await user()];
      await upload(dave, uniqueFixture('echo'));
      await upload(dave, uniqueFixture('echo'));
      const inline = {
        ...ORIGINAL_TASK,
        task_type: 'wasm_execution',
        wasm_module: uniqueFixture('echo').toString('base64'),
      };
      refusedForQuota(await call('POST', '/tasks', dave, inline));
      // erin's module is new to dave's usage: running it would keep it stored on his behalf.
      const theirs = uniqueFixture('echo');
      await upload(erin, theirs);
      refusedForQuota(await call('POST', '/tasks', dave, wasmTask(sha256(theirs))));
      expect((await call('POST', '/tasks', erin, wasmTask(sha256(theirs)))).statusCode).toBe(201);
    });

    it('concurrent tasks naming modules new to the user cannot all fit in the last free room', async () => {
      const [gina, hank, ivan] = [await user(), await user(), await user()];
      await upload(gina, uniqueFixture('echo'));
      // Room for one more echo-sized module: of three tasks, each running a module of others, one fits.
      const theirs = [uniqueFixture('echo'), uniqueFixture('echo'), uniqueFixture('echo')];
      for (const [i, bytes] of theirs.entries())
        expect((await upload(i ? hank : ivan, bytes)).statusCode).toBe(201);
      // Every submission passes its first check before any is inserted: the race, made certain.
      const ownership = ctx.app.get(ModuleOwnershipService);
      let arrived = 0;
      let allArrived!: () => void;
      const barrier = new Promise<void>((resolve) => (allArrived = resolve));
      jest.spyOn(ownership, 'assertCanRun').mockImplementation(async (...args) => {
        const isNew = await ModuleOwnershipService.prototype.assertCanRun.apply(ownership, args);
        if (++arrived === theirs.length) allArrived();
        await barrier;
        return isNew;
      });
      const answers = await Promise.all(
        theirs.map((bytes) => call('POST', '/tasks', gina, wasmTask(sha256(bytes)))),
      );
      jest.mocked(ownership.assertCanRun).mockRestore();
      expect(answers.map((res) => res.statusCode).sort()).toEqual([201, 413, 413]);
      refusedForQuota(answers.find((res) => res.statusCode === 413)!);
      const usage = (await call('GET', '/modules/usage', gina)).json<{ used_bytes: number }>();
      expect(usage.used_bytes).toBeLessThanOrEqual(Math.floor(ECHO_SIZE * 2.5));
    });

    it('a live task keeps its module charged to its creator until the task is deleted', async () => {
      const frank = await user();
      const bytes = uniqueFixture('echo');
      await upload(frank, bytes);
      const task = (await call('POST', '/tasks', frank, wasmTask(sha256(bytes)))).json<{ task_id: string }>();
      await call('DELETE', `/modules/${sha256(bytes)}`, frank);
      expect((await call('GET', '/modules/usage', frank)).json()).toMatchObject({ used_modules: 1 });
      await call('DELETE', `/tasks/${task.task_id}`, frank);
      expect((await call('GET', '/modules/usage', frank)).json()).toMatchObject({
        used_bytes: 0,
        used_modules: 0,
      });
    });

    it('counts modules as well as bytes', async () => {
      const grace = await user();
      const tiny = () => uniqueFixture('loop');
      for (let i = 0; i < 4; i++) expect((await upload(grace, tiny())).statusCode).toBe(201);
      refusedForQuota(await upload(grace, tiny()));
    });
  });

  it('documents DELETE /modules/{module_id}, the list and the usage in OpenAPI', async () => {
    const doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
    const remove = paths['/api/v1/modules/{module_id}'].delete;
    expect(remove['x-required-scopes']).toEqual(['tasks:write']);
    expect(Object.keys(remove.responses as object)).toEqual(expect.arrayContaining(['200', '404']));
    expect(paths['/api/v1/modules'].get['x-required-scopes']).toEqual(['tasks:read']);
    expect(paths['/api/v1/modules/usage'].get['x-required-scopes']).toEqual(['tasks:read']);
    expect(JSON.stringify(paths['/api/v1/modules'].post.responses)).toContain('storage_quota_exceeded');
  });
});
