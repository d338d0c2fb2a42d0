import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { collectPages } from '../support/pages';
import { ORIGINAL_TASK, submitTask, TaskInfo } from '../support/tasks';
import { expect422 } from '../support/validation';

/** The tasks API of issue 16 on PostgreSQL: submission, per-type validation, idempotency, privacy, cancel. */
describe('tasks API', () => {
  const ctx = useAdminApp();
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  const post = (payload: object, headers: Record<string, string>) =>
    ctx.app.inject({ method: 'POST', url: '/api/v1/tasks', headers, payload });
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, headers: Record<string, string>) =>
    ctx.app.inject({ method, url: `/api/v1${url}`, headers });

  it('accepts the original body and queues the task as pending', async () => {
    const res = await post(ORIGINAL_TASK, bearer(alice.accessToken));
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      task_type: 'computation',
      status: 'pending',
      assigned_nodes: [],
      result: null,
      proof_id: null,
      attempts: 0,
      max_attempts: 3,
      priority: 0,
      requirements: ORIGINAL_TASK.requirements,
      verification: { method: 'none' },
      completed_at: null,
    });
    expect(res.json().task_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('names the field of each invalid or missing per-type value (422)', async () => {
    const h = bearer(alice.accessToken);
    expect422(await post({ ...ORIGINAL_TASK, task_type: 'mining' }, h), 'task_type');
    expect422(await post({ ...ORIGINAL_TASK, task_type: 'wasm_execution' }, h), 'module_id');
    expect422(await post({ ...ORIGINAL_TASK, task_type: 'zk_proof' }, h), 'circuit_id');
    expect422(await post({ ...ORIGINAL_TASK, circuit_id: 'a'.repeat(64) }, h), 'circuit_id');
    expect422(
      await post({ ...ORIGINAL_TASK, task_type: 'zk_proof', circuit_id: 'a'.repeat(64) }, h),
      'circuit_id',
    );
    expect422(await post({ ...ORIGINAL_TASK, module_id: 'b'.repeat(64) }, h), 'module_id');
    expect422(await post({ ...ORIGINAL_TASK, priority: 10 }, h), 'priority');
    expect422(
      await post({ ...ORIGINAL_TASK, requirements: { ...ORIGINAL_TASK.requirements, min_nodes: 0 } }, h),
      'requirements.min_nodes',
    );
    expect422(await post({ ...ORIGINAL_TASK, inputs: { a: 'x'.repeat(10_001) } }, h), 'inputs.a');
    // argv as the run route and the engine's contract bound it (issue 7: ≤ 64 strings of ≤ 256 characters).
    expect(
      (await post({ ...ORIGINAL_TASK, task_type: 'wasm_execution', args: ['x'.repeat(256)] }, h)).json()
        .details,
    ).toEqual([expect.objectContaining({ field: 'module_id' })]);
    expect422(await post({ ...ORIGINAL_TASK, args: ['x'.repeat(257)] }, h), 'args');
    // Settings that would be stored but do nothing for this task.
    const requirements = ORIGINAL_TASK.requirements;
    expect422(
      await post({ ...ORIGINAL_TASK, requirements: { ...requirements, require_proof: true } }, h),
      'requirements.require_proof',
    );
    expect422(
      await post({ ...ORIGINAL_TASK, requirements: { ...requirements, max_runs: 5 } }, h),
      'requirements.max_runs',
    );
    expect422(await post({ ...ORIGINAL_TASK, surprise: 1 }, h));
  });

  it('says a missing field is required, in one message, and a wrong one what is wrong with it', async () => {
    const h = bearer(alice.accessToken);
    const missing = await post({ ...ORIGINAL_TASK, requirements: { max_execution_time_sec: 60 } }, h);
    expect(missing.statusCode).toBe(422);
    expect(missing.json().details).toEqual([
      { field: 'requirements.min_nodes', message: 'min_nodes is required' },
    ]);
    const withoutRequirements = { task_type: ORIGINAL_TASK.task_type, inputs: ORIGINAL_TASK.inputs };
    expect((await post(withoutRequirements, h)).json().details).toEqual([
      { field: 'requirements', message: 'requirements is required' },
    ]);
    // A present but wrong value is told what is wrong (null is a value, not an absence): a wrong type its type
    // alone, a number out of range its range.
    const wrong = await post(
      { ...ORIGINAL_TASK, requirements: { min_nodes: null, max_execution_time_sec: 60 } },
      h,
    );
    expect(wrong.json().details).toEqual([
      { field: 'requirements.min_nodes', message: 'min_nodes must be an integer number' },
    ]);
    const outOfRange = await post(
      { ...ORIGINAL_TASK, requirements: { min_nodes: 0, max_execution_time_sec: 60 } },
      h,
    );
    expect(outOfRange.json().details).toContainEqual({
      field: 'requirements.min_nodes',
      message: 'min_nodes must not be less than 1',
    });
    expect(wrong.json().details).not.toContainEqual(
      expect.objectContaining({ message: 'min_nodes is required' }),
    );
    // args that is not an array is told so, not that it has "more than 64 elements".
    expect((await post({ ...ORIGINAL_TASK, args: 'x' }, h)).json().details).toEqual([
      { field: 'args', message: 'args must be an array' },
    ]);
    expect((await post({ ...ORIGINAL_TASK, args: { 0: 'a' } }, h)).json().details).toContainEqual({
      field: 'args',
      message: 'args must be an array',
    });
  });

  it('refuses federated_learning, which no node executes yet, and stores no task (422 task_type_not_supported)', async () => {
    const h = bearer(alice.accessToken);
    const before = await ctx.dataSource.query(`SELECT count(*)::int AS n FROM tasks`);
    const res = await post({ ...ORIGINAL_TASK, task_type: 'federated_learning', inputs: { rounds: 1 } }, h);
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({
      error: 'validation_error',
      reason: 'task_type_not_supported',
      details: [{ field: 'task_type', message: expect.stringContaining('no node executes them') }],
    });
    expect(await ctx.dataSource.query(`SELECT count(*)::int AS n FROM tasks`)).toEqual(before);
    // The control: the same body with a type nodes execute is stored.
    expect(
      (await post({ ...ORIGINAL_TASK, inputs: { program: 'expression', expression: '1' } }, h)).statusCode,
    ).toBe(201);
  });

  it.each(['__proto__', 'constructor', 'prototype'])(
    'a %s key in the inputs is a 422 forbidden_key naming the path, as on the run route, and stores no task',
    async (key) => {
      const before = await ctx.dataSource.query(`SELECT count(*)::int AS n FROM tasks`);
      // Written as text: an object literal with a `__proto__` key would set a prototype instead.
      const module = readFileSync(join(__dirname, '../fixtures/wasm/echo.wasm')).toString('base64');
      const body = JSON.stringify({ ...ORIGINAL_TASK, task_type: 'wasm_execution', wasm_module: module });
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: { ...bearer(alice.accessToken), 'content-type': 'application/json' },
        payload: body.replace(/}$/, `, "inputs": {"a": [{"${key}": {"polluted": true}}]}}`),
      });
      expect([res.statusCode, res.json().details]).toEqual([
        422,
        [{ field: `inputs.a[0].${key}`, message: expect.stringMatching(/^forbidden_key: /) }],
      ]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(await ctx.dataSource.query(`SELECT count(*)::int AS n FROM tasks`)).toEqual(before);
    },
  );

  it('a forbidden key elsewhere in the body is a 422 naming it, never dropped in silence', async () => {
    const text = JSON.stringify(ORIGINAL_TASK);
    for (const [payload, field] of [
      [text.replace(/^{/, '{"__proto__": {"x": 1}, '), '__proto__'],
      [text.replace(/^{/, '{"constructor": 1, '), 'constructor'],
      [text.replace('"requirements":{', '"requirements":{"prototype": 1, '), 'requirements.prototype'],
    ]) {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: { ...bearer(alice.accessToken), 'content-type': 'application/json' },
        payload,
      });
      expect({ payload, status: res.statusCode, details: res.json().details }).toEqual({
        payload,
        status: 422,
        details: [expect.objectContaining({ field })],
      });
    }
  });

  it('stores a base64 wasm_module like an upload and records its id', async () => {
    const module = readFileSync(join(__dirname, '../fixtures/wasm/echo.wasm'));
    const res = await post(
      { ...ORIGINAL_TASK, task_type: 'wasm_execution', wasm_module: module.toString('base64') },
      bearer(alice.accessToken),
    );
    expect(res.statusCode).toBe(201);
    const moduleId = res.json().module_id as string;
    expect(moduleId).toBe(createHash('sha256').update(module).digest('hex'));
    const stored = await call('GET', `/modules/${moduleId}`, bearer(alice.accessToken));
    expect(stored.statusCode).toBe(200);
  });

  it('Idempotency-Key: same key and body → one task; same key, other body → 422 idempotency_key_reused', async () => {
    const headers = { ...bearer(alice.accessToken), 'idempotency-key': `k-${Date.now()}` };
    const first = await post(ORIGINAL_TASK, headers);
    const second = await post(ORIGINAL_TASK, headers);
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    expect(second.json().task_id).toBe(first.json().task_id);
    const reused = await post({ ...ORIGINAL_TASK, priority: 5 }, headers);
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({ error: 'validation_error', reason: 'idempotency_key_reused' });
    // Bob's identical key is his own.
    const bobs = await post(ORIGINAL_TASK, {
      ...bearer(bob.accessToken),
      'idempotency-key': headers['idempotency-key'],
    });
    expect(bobs.json().task_id).not.toBe(first.json().task_id);
  });

  it('Idempotency-Key of a deleted task: 409 idempotency_key_task_deleted, not a 404 on POST', async () => {
    const h = { ...bearer(alice.accessToken), 'idempotency-key': 'deleted-then-again' };
    const first = await post(ORIGINAL_TASK, h);
    expect(first.statusCode).toBe(201);
    const deleted = await call('DELETE', `/tasks/${first.json().task_id}`, bearer(alice.accessToken));
    expect(deleted.statusCode).toBe(200);
    const again = await post(ORIGINAL_TASK, h);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: 'conflict', reason: 'idempotency_key_task_deleted' });
    // A new key submits anew.
    expect((await post(ORIGINAL_TASK, { ...h, 'idempotency-key': 'a-new-key' })).statusCode).toBe(201);
  });

  it('audits each submitted task once: one row naming the task, its creator and the request', async () => {
    const keyed = {
      ...bearer(alice.accessToken),
      'idempotency-key': `audit-${Date.now()}`,
      'user-agent': 'probe/1',
    };
    const first = await post({ ...ORIGINAL_TASK, priority: 3 }, keyed);
    const replayed = await post({ ...ORIGINAL_TASK, priority: 3 }, keyed);
    const plain = await post(ORIGINAL_TASK, bearer(alice.accessToken));
    expect([first.statusCode, replayed.statusCode, plain.statusCode]).toEqual([201, 201, 201]);
    const rows = await ctx.dataSource.query(
      `SELECT resource_type, resource_id, user_id, request_id, status, user_agent, metadata FROM audit_log
        WHERE action = 'task.submitted' AND resource_id = ANY($1) ORDER BY created_at`,
      [[first.json().task_id, plain.json().task_id]],
    );
    expect(rows).toEqual([
      {
        resource_type: 'task',
        resource_id: first.json().task_id,
        user_id: alice.userId,
        request_id: first.headers['x-request-id'],
        status: 'success',
        user_agent: 'probe/1',
        metadata: { task_type: 'computation', priority: 3 },
      },
      expect.objectContaining({
        resource_id: plain.json().task_id,
        request_id: plain.headers['x-request-id'],
      }),
    ]);
  });

  it('stores no task when its audit row cannot be written (task and audit row are one statement)', async () => {
    const count = async () =>
      (
        await ctx.dataSource.query(`SELECT count(*)::int AS n FROM tasks WHERE creator_id = $1`, [
          alice.userId,
        ])
      )[0].n as number;
    const before = await count();
    await ctx.dataSource.query(
      `ALTER TABLE audit_log ADD CONSTRAINT test_block_submit CHECK (action <> 'task.submitted') NOT VALID`,
    );
    try {
      const res = await post(ORIGINAL_TASK, bearer(alice.accessToken));
      expect(res.statusCode).toBe(500);
      expect(await count()).toBe(before);
    } finally {
      await ctx.dataSource.query(`ALTER TABLE audit_log DROP CONSTRAINT test_block_submit`);
    }
    // Negative control: the same submission stores its task once the audit row can be written again.
    expect((await post(ORIGINAL_TASK, bearer(alice.accessToken))).statusCode).toBe(201);
    expect(await count()).toBe(before + 1);
  });

  it('another user gets 404 for every operation and does not see the task listed; an admin sees it', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    for (const headers of [bearer(bob.accessToken), apiKeyHeader(bob.apiKey)]) {
      expect((await call('GET', `/tasks/${task.task_id}`, headers)).statusCode).toBe(404);
      expect((await call('POST', `/tasks/${task.task_id}/cancel`, headers)).statusCode).toBe(404);
      expect((await call('DELETE', `/tasks/${task.task_id}`, headers)).statusCode).toBe(404);
      const listed = (await call('GET', '/tasks?limit=100', headers)).json<{ items: TaskInfo[] }>().items;
      expect(listed.map((t) => t.task_id)).not.toContain(task.task_id);
    }
    expect((await call('GET', '/tasks/not-a-uuid', bearer(bob.accessToken))).statusCode).toBe(404);
    expect((await call('GET', '/tasks?all=true', bearer(bob.accessToken))).statusCode).toBe(403);
    const mine = (await call('GET', '/tasks?limit=100', bearer(alice.accessToken))).json<{
      items: TaskInfo[];
    }>();
    expect(mine.items.map((t) => t.task_id)).toContain(task.task_id);
    const asAdmin = await call('GET', `/tasks/${task.task_id}`, bearer(ctx.admin.accessToken));
    expect(asAdmin.json()).toMatchObject({ task_id: task.task_id, runs: [] });
    const all = await call('GET', '/tasks?all=true&limit=100', bearer(ctx.admin.accessToken));
    expect(all.json<{ items: TaskInfo[] }>().items.map((t) => t.task_id)).toContain(task.task_id);
  });

  it('pages with next_cursor and filters by status', async () => {
    const carol = await newSession(ctx.app, 'carol');
    const h = bearer(carol.accessToken);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await submitTask(ctx.app, h)).task_id);
    const page1 = (await call('GET', '/tasks?limit=2', h)).json<{ items: TaskInfo[]; next_cursor: string }>();
    const page2 = (await call('GET', `/tasks?limit=2&cursor=${page1.next_cursor}`, h)).json<{
      items: TaskInfo[];
      next_cursor: string | null;
    }>();
    expect([...page1.items, ...page2.items].map((t) => t.task_id).sort()).toEqual([...ids].sort());
    expect(page2.next_cursor).toBeNull();
    await call('POST', `/tasks/${ids[0]}/cancel`, h);
    const cancelled = (await call('GET', '/tasks?status=cancelled', h)).json<{ items: TaskInfo[] }>();
    expect(cancelled.items.map((t) => t.task_id)).toEqual([ids[0]]);
    expect422(await call('GET', '/tasks?status=done', h), 'status');
  });

  it('pages through tasks created within one millisecond without skipping any', async () => {
    const dave = await newSession(ctx.app, 'dave');
    const h = bearer(dave.accessToken);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await submitTask(ctx.app, h)).task_id);
    // Bulk submissions share milliseconds; a cursor carries milliseconds, the database microseconds.
    await ctx.dataSource.query(
      `UPDATE tasks SET created_at = timestamptz '2026-06-01 12:00:00.123000+00' + (random() * 999)::int * interval '1 microsecond'
        WHERE task_id = ANY($1::uuid[])`,
      [ids],
    );
    const seen = await collectPages<TaskInfo>((cursor) =>
      call('GET', `/tasks?limit=1${cursor ? `&cursor=${cursor}` : ''}`, h),
    );
    expect(seen.map((t) => t.task_id).sort()).toEqual([...ids].sort());
  });

  it('cancel makes a pending task cancelled; delete hides it from lists and reads', async () => {
    const h = bearer(alice.accessToken);
    const task = await submitTask(ctx.app, h);
    const cancelled = await call('POST', `/tasks/${task.task_id}/cancel`, h);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', status_reason: 'cancelled_by_user' });
    expect(cancelled.json().completed_at).not.toBeNull();
    const other = await submitTask(ctx.app, h);
    // Named in capitals (a UUID's other spelling, accepted), it is answered with the task's id as stored.
    const deleted = await call('DELETE', `/tasks/${other.task_id.toUpperCase()}`, h);
    expect(deleted.json()).toEqual({ message: 'Task deleted successfully', task_id: other.task_id });
    expect((await call('GET', `/tasks/${other.task_id}`, h)).statusCode).toBe(404);
    const [row] = await ctx.dataSource.query(`SELECT status, deleted_at FROM tasks WHERE task_id = $1`, [
      other.task_id,
    ]);
    expect(row.status).toBe('cancelled');
    expect(row.deleted_at).not.toBeNull();
  });
  /** Runs `step` on a connection of its own holding the task's row lock, while `cancel` waits for that lock. */
  const cancelWhileLocked = async (taskId: string, step: string, headers: Record<string, string>) => {
    const locker = ctx.dataSource.createQueryRunner();
    await locker.connect();
    try {
      await locker.startTransaction();
      await locker.query(`SELECT 1 FROM tasks WHERE task_id = $1 FOR UPDATE`, [taskId]);
      const cancel = call('POST', `/tasks/${taskId}/cancel`, headers);
      await eventually(async () => {
        const [{ n }] = await ctx.dataSource.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND query LIKE 'UPDATE tasks SET status = ''cancelled''%'`,
        );
        expect(n).toBe(1);
      });
      await locker.query(step, [taskId]);
      await locker.commitTransaction();
      return await cancel;
    } finally {
      await locker.release();
    }
  };

  it('a cancel that loses a race names the status that refused it, and one racing a cancel is that cancel', async () => {
    const h = bearer(alice.accessToken);
    const completed = await submitTask(ctx.app, h);
    const lost = await cancelWhileLocked(
      completed.task_id,
      `UPDATE tasks SET status = 'completed', completed_at = now() WHERE task_id = $1`,
      h,
    );
    expect(lost.statusCode).toBe(409);
    // Read before the wait, the status was pending: the answer names the one that refused the cancel.
    expect(lost.json()).toMatchObject({ error: 'conflict', message: 'The task is already completed' });
    const twice = await submitTask(ctx.app, h);
    const second = await cancelWhileLocked(
      twice.task_id,
      `UPDATE tasks SET status = 'cancelled', status_reason = 'cancelled_by_user', completed_at = now()
        WHERE task_id = $1`,
      h,
    );
    expect(second.statusCode).toBe(200);
    expect(second.json()).toMatchObject({ task_id: twice.task_id, status: 'cancelled' });
  });
});
