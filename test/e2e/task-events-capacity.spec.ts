import { randomUUID } from 'node:crypto';
import { TaskEventStreams } from '../../src/tasks/task-event-streams';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { LogCapture } from '../support/log-capture';
import { useTaskStreams } from '../support/sse';
import { submitTask } from '../support/tasks';

/** TASK_EVENTS_MAX_STREAMS: the server's bound on open event streams, across users (the per-user one is 429). */
describe('task event streams at the server-wide bound', () => {
  const logs = new LogCapture();
  const ctx = useTestApp({
    database: 'pglite',
    env: { LOG_LEVEL: 'info', TASK_EVENTS_MAX_STREAMS: '2', TASK_EVENTS_MAX_STREAMS_PER_USER: '2' },
    logDestination: logs,
  });
  let alice: Session;
  let bob: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });
  const sse = useTaskStreams(ctx);
  const stream = (taskId: string, session: Session) => sse.stream(taskId, session.accessToken);

  it('answers 503 with Retry-After past it (a load shed, logged as a warning), and a stream again once one closes', async () => {
    const streams = ctx.app.get(TaskEventStreams);
    const alicesTask = await submitTask(ctx.app, bearer(alice.accessToken));
    const bobsTask = await submitTask(ctx.app, bearer(bob.accessToken));
    const bobs = stream(bobsTask.task_id, bob);
    const alices = stream(alicesTask.task_id, alice);
    expect((await bobs.response).statusCode).toBe(200);
    expect((await alices.response).statusCode).toBe(200);
    expect(streams.openCount).toBe(2);

    // Alice holds one stream of her two: the server's bound, not hers, refuses the next.
    const refusedId = randomUUID();
    const refused = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${alicesTask.task_id}/events`,
      headers: { ...bearer(alice.accessToken), 'x-request-id': refusedId },
    });
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ error: 'service_unavailable', request_id: refusedId });
    expect(refused.headers['retry-after']).toBe('5');
    expect(await logs.completedLine(refusedId)).toMatchObject({ level: 40, res: { statusCode: 503 } });

    bobs.close();
    await eventually(() => expect(streams.openCount).toBe(1));
    const again = stream(alicesTask.task_id, alice);
    expect((await again.response).statusCode).toBe(200);
  });
});
