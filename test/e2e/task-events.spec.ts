import { TaskEventStreams } from '../../src/tasks/task-event-streams';
import { useAdminApp } from '../support/admin';
import { TestAgent } from '../support/agent';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { eventually } from '../support/eventually';
import { parseSse, SseMessage, useTaskStreams } from '../support/sse';
import { submitTask } from '../support/tasks';

const statuses = (messages: SseMessage[]) =>
  messages.filter((m) => m.event === 'status').map((m) => (JSON.parse(m.data) as { status: string }).status);
const runStatuses = (messages: SseMessage[]) =>
  messages.filter((m) => m.event === 'run').map((m) => (JSON.parse(m.data) as { status: string }).status);

/** Acceptance 5 of issue 16 (the SSE part): GET /tasks/:task_id/events. */
describeEachDatabase('task events (SSE) on %s', (database) => {
  const ctx = useAdminApp({
    database,
    env: {
      TASK_RETRY_BASE_MS: '0',
      SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
      TASK_EVENTS_HEARTBEAT_MS: '200',
      TASK_EVENTS_MAX_STREAMS_PER_USER: '2',
    },
  });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });
  const sse = useTaskStreams(ctx);

  const newAgent = () => TestAgent.register(ctx.app, bearer(bob.accessToken));
  const stream = (taskId: string, session: Session, headers: Record<string, string> = {}) =>
    sse.stream(taskId, session.accessToken, headers);
  const inject = (taskId: string, session: Session, headers: Record<string, string> = {}) =>
    ctx.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${taskId}/events`,
      headers: { ...bearer(session.accessToken), ...headers },
    });

  /** A task driven to completed: a trap on one node (requeued), then ok on another. */
  async function completedTask(): Promise<string> {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { max_attempts: 3 });
    const [first, second] = [await newAgent(), await newAgent()];
    const [run1] = await first.claim();
    expect((await first.report(run1, 'trap', null)).statusCode).toBe(200);
    const [run2] = await second.claim();
    expect((await second.report(run2, 'ok', { sum: 6 })).statusCode).toBe(200);
    return task.task_id;
  }

  it('delivers every status change live, in order, over a real HTTP connection, with heartbeats; ends after the terminal event', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), { max_attempts: 3 });
    const client = stream(task.task_id, alice);
    const res = await client.response;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.headers['x-request-id']).toBeTruthy();
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    await eventually(() => expect(statuses(client.received.messages)).toEqual(['pending']));
    await eventually(() => expect(client.received.comments).toBeGreaterThan(0));

    const [first, second] = [await newAgent(), await newAgent()];
    const [run1] = await first.claim();
    await eventually(() => expect(statuses(client.received.messages)).toEqual(['pending', 'running']));
    await first.report(run1, 'trap', null);
    await eventually(() => expect(runStatuses(client.received.messages)).toEqual(['leased', 'failed']));
    const [run2] = await second.claim();
    expect(client.isEnded).toBe(false);
    await second.report(run2, 'ok', { sum: 6 });
    await client.ended;

    const { messages, retry } = client.received;
    expect(retry).toBeGreaterThan(0);
    expect(statuses(messages)).toEqual(['pending', 'running', 'pending', 'running', 'completed']);
    expect(runStatuses(messages)).toEqual(['leased', 'failed', 'leased', 'succeeded']);
    const ids = messages.map((m) => BigInt(m.id!));
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1])).toBe(true);
    const last = JSON.parse(messages[messages.length - 1].data);
    expect(last).toMatchObject({ task_id: task.task_id, status: 'completed', attempts: 2 });
    const runEvent = JSON.parse(messages.find((m) => m.event === 'run')!.data);
    expect(runEvent).toMatchObject({ run_id: run1.run_id, node_id: first.nodeId, status: 'leased' });
  });

  it('replays a finished task and closes; resumes after Last-Event-ID; a malformed id is a 422', async () => {
    const taskId = await completedTask();
    const all = await inject(taskId, alice);
    expect(all.statusCode).toBe(200);
    const { messages } = parseSse(all.body);
    expect(statuses(messages)).toEqual(['pending', 'running', 'pending', 'running', 'completed']);

    const resumed = await inject(taskId, alice, { 'last-event-id': messages[2].id! });
    expect(parseSse(resumed.body).messages).toEqual(messages.slice(3));
    // Past a finished task's last event: 204, which an EventSource takes as "stop reconnecting".
    const afterLast = await inject(taskId, alice, { 'last-event-id': messages[messages.length - 1].id! });
    expect([afterLast.statusCode, afterLast.body]).toEqual([204, '']);
    // Control: one event before the end still gets a stream with that event.
    const beforeLast = await inject(taskId, alice, { 'last-event-id': messages[messages.length - 2].id! });
    expect(beforeLast.statusCode).toBe(200);
    expect(parseSse(beforeLast.body).messages).toEqual(messages.slice(-1));

    const malformed = await inject(taskId, alice, { 'last-event-id': 'abc' });
    expect(malformed.statusCode).toBe(422);
    expect(malformed.json().details[0].field).toBe('Last-Event-ID');
    // Another stream's id (or one no stream has) would replay from an arbitrary point, or hide the end.
    const other = parseSse((await inject(await completedTask(), alice)).body).messages[0].id!;
    for (const foreign of [other, '999999999']) {
      const res = await inject(taskId, alice, { 'last-event-id': foreign });
      expect(res.statusCode).toBe(422);
      expect(res.json().details[0].field).toBe('Last-Event-ID');
    }
  });

  it('a live stream resumed with Last-Event-ID gets only later events', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const first = stream(task.task_id, alice);
    await eventually(() => expect(first.received.messages).toHaveLength(1));
    first.close();
    const agent = await newAgent();
    const [run] = await agent.claim();
    const resumed = stream(task.task_id, alice, { 'last-event-id': first.received.messages[0].id! });
    await eventually(() => expect(statuses(resumed.received.messages)).toEqual(['running']));
    await agent.report(run, 'ok', 1);
    await resumed.ended;
    expect(statuses(resumed.received.messages)).toEqual(['running', 'completed']);
  });

  it('another user gets 404 (like an unknown task); an admin may follow any task', async () => {
    const taskId = await completedTask();
    expect((await inject(taskId, bob)).statusCode).toBe(404);
    expect((await inject('00000000-0000-4000-8000-000000000000', alice)).statusCode).toBe(404);
    expect((await inject('not-a-uuid', alice)).statusCode).toBe(404);
    const asAdmin = await inject(taskId, ctx.admin as unknown as Session);
    expect(asAdmin.statusCode).toBe(200);
    expect(statuses(parseSse(asAdmin.body).messages)).toContain('completed');
  });

  it('a cancelled task ends its streams; open streams are bounded per user and freed when the client leaves', async () => {
    const streams = ctx.app.get(TaskEventStreams);
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const a = stream(task.task_id, alice);
    const b = stream(task.task_id, alice);
    await eventually(() => expect(b.received.messages).toHaveLength(1));
    await a.response;
    const third = await inject(task.task_id, alice);
    expect(third.statusCode).toBe(429);
    expect(third.json().error).toBe('rate_limited');
    expect(third.headers['retry-after']).toBe('2');

    const before = streams.openCount;
    a.close();
    await eventually(() => expect(streams.openCount).toBe(before - 1));
    const c = stream(task.task_id, alice);
    expect((await c.response).statusCode).toBe(200);

    await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/tasks/${task.task_id}/cancel`,
      headers: bearer(alice.accessToken),
    });
    await Promise.all([b.ended, c.ended]);
    expect(statuses(c.received.messages)).toEqual(['pending', 'cancelled']);
    await eventually(() => expect(streams.openCount).toBe(before - 2));
  });
});
