import { useTestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { bearer, newSession, Session } from '../support/auth';
import { ORIGINAL_NODE, uniqueNodeId } from '../support/nodes';
import { ORIGINAL_TASK, postTask, submitTask } from '../support/tasks';

/**
 * TASK_MAX_LIVE_PER_USER and NODE_MAX_PER_USER: how much one user may hold at once. The rate limits bound how
 * fast a script creates tasks and nodes; these bound how many, per user, whoever else is using the server.
 * PostgreSQL (no embedded node, so submitted tasks stay pending), where registrations really run in parallel.
 */
describe('per-user limits on live tasks and nodes', () => {
  const ctx = useTestApp({ env: { TASK_MAX_LIVE_PER_USER: '3', NODE_MAX_PER_USER: '2' } });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  const countTasks = async (owner: Session) => {
    const [{ n }] = await ctx.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM tasks WHERE creator_id = $1`,
      [owner.userId],
    );
    return n;
  };
  const cancel = (owner: Session, taskId: string) =>
    ctx.app.inject({
      method: 'POST',
      url: `/api/v1/tasks/${taskId}/cancel`,
      headers: bearer(owner.accessToken),
    });
  const register = (owner: Session, nodeId: string, publicKey?: string) =>
    ctx.app.inject({
      method: 'POST',
      url: '/api/v1/nodes',
      headers: bearer(owner.accessToken),
      payload: { ...ORIGINAL_NODE, node_id: nodeId, ...(publicKey ? { public_key: publicKey } : {}) },
    });

  it('refuses a submission past the live-task limit with 429 live_task_limit, storing nothing; an ended task makes room', async () => {
    const replayKey = 'limits-replay-1';
    const first = await postTask(
      ctx.app,
      { ...bearer(alice.accessToken), 'idempotency-key': replayKey },
      ORIGINAL_TASK,
    );
    expect(first.statusCode).toBe(201);
    await submitTask(ctx.app, bearer(alice.accessToken));
    await submitTask(ctx.app, bearer(alice.accessToken));

    const refused = await postTask(ctx.app, bearer(alice.accessToken), ORIGINAL_TASK);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({
      error: 'rate_limited',
      reason: 'live_task_limit',
      limit: { live_tasks: 3, max_live_tasks: 3 },
    });
    expect(refused.headers['retry-after']).toBe('5');
    expect(await countTasks(alice)).toBe(3);

    // A replay adds no task: it still answers with the first, at the limit.
    const replayed = await postTask(
      ctx.app,
      { ...bearer(alice.accessToken), 'idempotency-key': replayKey },
      ORIGINAL_TASK,
    );
    expect(replayed.statusCode).toBe(201);
    expect(replayed.json().task_id).toBe(first.json().task_id);

    // Another user's tasks are their own.
    await submitTask(ctx.app, bearer(bob.accessToken));

    // A cancelled task is no longer live: one more fits, and then the limit holds again.
    expect((await cancel(alice, first.json().task_id)).statusCode).toBe(200);
    await submitTask(ctx.app, bearer(alice.accessToken));
    expect((await postTask(ctx.app, bearer(alice.accessToken), ORIGINAL_TASK)).statusCode).toBe(429);
    expect(await countTasks(alice)).toBe(4);
  });

  it('refuses a registration past the node limit with 409 node_limit, also when registrations race', async () => {
    const carol = await newSession(ctx.app, 'carol');
    const ids = Array.from({ length: 5 }, () => uniqueNodeId('limit'));
    // Five at once for a limit of two, made to overlap: the test holds carol's row, so each registration waits
    // for it. Taken before the count, the owner's lock lets them through one by one and exactly two fit; a
    // registration that counted first would only wait at its insert (the foreign key), all five having
    // counted none.
    const holder = ctx.dataSource.createQueryRunner();
    await holder.startTransaction();
    let pending: Promise<Awaited<ReturnType<typeof register>>[]>;
    try {
      await holder.query(`SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE`, [carol.userId]);
      pending = Promise.all(ids.map((id) => register(carol, id)));
      await eventually(async () => {
        const [{ waiting }] = await ctx.dataSource.query<{ waiting: number }[]>(
          `SELECT count(*)::int AS waiting FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        expect(waiting).toBe(ids.length);
      });
      await holder.commitTransaction();
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
    const answers = await pending;
    expect(answers.map((a) => a.statusCode).sort()).toEqual([201, 201, 409, 409, 409]);
    const refused = answers.find((a) => a.statusCode === 409)!;
    expect(refused.json()).toMatchObject({ error: 'conflict', reason: 'node_limit' });
    const [{ n }] = await ctx.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM nodes WHERE owner_id = $1 AND deleted_at IS NULL`,
      [carol.userId],
    );
    expect(n).toBe(2);

    // At the limit, an id the owner already has keeps its own answer (409 without the reason: the id is in use).
    const registered = ids.filter((_, i) => answers[i].statusCode === 201);
    const again = await register(carol, registered[0]);
    expect(again.statusCode).toBe(409);
    expect(again.json().reason).toBeUndefined();

    // A deleted node frees its place.
    const deleted = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/v1/nodes/${registered[0]}`,
      headers: bearer(carol.accessToken),
    });
    expect(deleted.statusCode).toBe(200);
    expect((await register(carol, uniqueNodeId('limit'))).statusCode).toBe(201);
    expect((await register(bob, uniqueNodeId('limit'))).statusCode).toBe(201);
  });
});
