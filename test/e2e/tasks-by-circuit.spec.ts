import { useAdminApp } from '../support/admin';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { submitTask } from '../support/tasks';
import { FixtureCircuit, FixtureProtocol, postZkTask, registerCircuit } from '../support/zk';

interface Page {
  items: { task_id: string; status: string; circuit_id: string | null }[];
  next_cursor: string | null;
}

/**
 * `GET /tasks?circuit_id=`: the tasks naming a circuit (a retired one's unfinished tasks, to cancel them), with
 * the list's other filters and pages; a malformed id is the 422 of any malformed query id.
 */
describeEachDatabase('listing tasks by circuit on %s', (database) => {
  const ctx = useAdminApp({ database, env: { SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  let admin: Record<string, string>;
  let alice: Session;
  let bob: Session;
  let circuit: string;
  let other: string;

  const register = async (name: FixtureCircuit, protocol: FixtureProtocol) => {
    return registerCircuit(ctx.app, admin, name, protocol);
  };
  const zkTask = async (session: Session, circuitId: string) => {
    const res = await postZkTask(ctx.app, bearer(session.accessToken), circuitId);
    expect(res.statusCode).toBe(201);
    return res.json<{ task_id: string }>().task_id;
  };
  const list = async (query: string, headers: Record<string, string> = bearer(alice.accessToken)) => {
    const res = await ctx.app.inject({ method: 'GET', url: `/api/v1/tasks?${query}`, headers });
    expect([res.statusCode, res.body]).toEqual([200, expect.any(String)]);
    return res.json<Page>();
  };
  const ids = (page: Page) => page.items.map((task) => task.task_id);

  const aliceTasks: string[] = [];
  let bobTask: string;

  beforeAll(async () => {
    admin = bearer(ctx.admin.accessToken);
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
    circuit = await register('multiplier', 'groth16');
    other = await register('multiplier', 'plonk');
    for (let i = 0; i < 3; i++) aliceTasks.push(await zkTask(alice, circuit));
    bobTask = await zkTask(bob, circuit);
    await zkTask(alice, other);
    await submitTask(ctx.app, bearer(alice.accessToken));
  });

  it('lists the caller’s tasks naming the circuit, newest first, in pages; an admin’s all=true lists everyone’s', async () => {
    const own = await list(`circuit_id=${circuit}`);
    expect(ids(own)).toEqual([...aliceTasks].reverse());
    expect(own.items.every((task) => task.circuit_id === circuit)).toBe(true);
    const first = await list(`circuit_id=${circuit}&limit=2`);
    expect(ids(first)).toEqual([aliceTasks[2], aliceTasks[1]]);
    const rest = await list(`circuit_id=${circuit}&limit=2&cursor=${first.next_cursor}`);
    expect([ids(rest), rest.next_cursor]).toEqual([[aliceTasks[0]], null]);

    expect(ids(await list(`circuit_id=${circuit}&all=true`, admin)).sort()).toEqual(
      [...aliceTasks, bobTask].sort(),
    );
    // Bob's own list is his task alone; all=true stays an admin's.
    expect(ids(await list(`circuit_id=${circuit}`, bearer(bob.accessToken)))).toEqual([bobTask]);
    const refused = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/tasks?circuit_id=${circuit}&all=true`,
      headers: bearer(bob.accessToken),
    });
    expect([refused.statusCode, refused.json().error]).toEqual([403, 'forbidden']);
    // Unregistered (or deleted): no task names it.
    expect(await list(`circuit_id=${'ab'.repeat(32)}`)).toEqual({ items: [], next_cursor: null });
  });

  it('combines with status and task_type: a retired circuit’s pending tasks are found and cancelled', async () => {
    const retired = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/v1/admin/circuits/${circuit}`,
      headers: admin,
    });
    expect(retired.json()).toMatchObject({ outcome: 'retired', unfinished_tasks: 4 });
    const pending = await list(`circuit_id=${circuit}&status=pending&all=true`, admin);
    expect(pending.items).toHaveLength(4);
    expect(pending.items.every((task) => task.status === 'pending')).toBe(true);
    expect((await list(`circuit_id=${circuit}&task_type=computation`)).items).toEqual([]);
    expect(ids(await list(`circuit_id=${other}&task_type=zk_proof`))).toHaveLength(1);

    for (const taskId of ids(pending)) {
      const cancelled = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/tasks/${taskId}/cancel`,
        headers: admin,
      });
      expect(cancelled.statusCode).toBe(200);
    }
    expect((await list(`circuit_id=${circuit}&status=pending&all=true`, admin)).items).toEqual([]);
    expect((await list(`circuit_id=${circuit}&status=cancelled&all=true`, admin)).items).toHaveLength(4);
    // The other circuit's task is untouched.
    expect((await list(`circuit_id=${other}&status=pending`)).items).toHaveLength(1);
  });

  it('refuses a malformed circuit_id with 422 validation_error naming it, as other query ids', async () => {
    const repeated = `${circuit}&circuit_id=${circuit}`;
    for (const bad of ['nope', 'AB'.repeat(32), 'a'.repeat(65), repeated, '']) {
      const res = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/tasks?circuit_id=${bad}`,
        headers: bearer(alice.accessToken),
      });
      // A repeated parameter is told it is given twice, and only that (README, HTTP conventions).
      const message =
        bad === repeated
          ? 'circuit_id is given 2 times: give it once'
          : 'circuit_id must be 64 lowercase hex characters (a SHA-256)';
      expect([bad, res.statusCode, res.json()]).toEqual([
        bad,
        422,
        {
          error: 'validation_error',
          message: 'Request validation failed',
          details: [{ field: 'circuit_id', message }],
          request_id: expect.any(String),
        },
      ]);
    }
  });
});
