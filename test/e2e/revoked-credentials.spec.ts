import type { AddressInfo } from 'node:net';
import { ClaimService } from '../../src/scheduling/claim.service';
import { useAdminApp } from '../support/admin';
import { TestAgent } from '../support/agent';
import { bearer, newSession, requestAs, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { SseClient, useTaskStreams } from '../support/sse';
import { getTask, submitTask } from '../support/tasks';

const ENDED = 'the credential that opened this stream is no longer valid';

/**
 * What a credential authorized before it was revoked must not keep doing (a probe of 2026-12-07): an open task
 * event stream (it lives until its task ends) and a long-poll claim that was already waiting.
 */
describe('credentials revoked while their request is still open', () => {
  const ctx = useAdminApp({ env: { SCHEDULER_SWEEP_INTERVAL_SECS: '3600' } });
  const sse = useTaskStreams(ctx);
  const as: ReturnType<typeof requestAs> = (...args) => requestAs(ctx.app)(...args);
  const baseUrl = () => `http://127.0.0.1:${(ctx.app.getHttpServer().address() as AddressInfo).port}`;

  // Each test starts with an empty queue: a pending task left by another would be leased to a claim at once.
  afterEach(async () => {
    const admin = ctx.admin.accessToken;
    const pending = await as(admin, 'GET', '/api/v1/tasks?all=true&status=pending&limit=100');
    for (const { task_id } of pending.json<{ items: { task_id: string }[] }>().items) {
      expect((await as(admin, 'POST', `/api/v1/tasks/${task_id}/cancel`)).statusCode).toBe(200);
    }
  });

  /** A pending task of `session`'s (no node takes it here) and a stream on it that has started. */
  const openStream = async (session: Session, headers?: Record<string, string>) => {
    const task = await submitTask(ctx.app, bearer(session.accessToken));
    const client = headers
      ? new SseClient(`${baseUrl()}/api/v1/tasks/${task.task_id}/events`, headers)
      : sse.stream(task.task_id, session.accessToken);
    expect((await client.response).statusCode).toBe(200);
    await eventually(() => expect(client.received.messages.length).toBeGreaterThan(0));
    return { task, client };
  };

  it('an account disabled ends its open streams; another account’s stream goes on', async () => {
    const [alice, bob] = [await newSession(ctx.app, 'alice'), await newSession(ctx.app, 'bob')];
    const hers = await openStream(alice);
    const his = await openStream(bob);
    const disabled = await as(ctx.admin.accessToken, 'PATCH', `/api/v1/admin/users/${alice.userId}`, {
      disabled: true,
    });
    expect(disabled.statusCode).toBe(200);
    await hers.client.ended;
    expect(hers.client.body).toContain(`: ${ENDED}`);
    expect((await getTask(ctx.app, hers.task.task_id, bearer(ctx.admin.accessToken))).status).toBe('pending');
    // Negative control: Bob's stream was not ended; it ends with its task, as ever, and without that comment.
    expect(his.client.isEnded).toBe(false);
    expect((await as(bob.accessToken, 'POST', `/api/v1/tasks/${his.task.task_id}/cancel`)).statusCode).toBe(
      200,
    );
    await his.client.ended;
    expect(his.client.body).not.toContain(ENDED);
  });

  it('an API key revoked, or a logout-all, ends the streams it opened', async () => {
    const carol = await newSession(ctx.app, 'carol');
    const created = await as(carol.accessToken, 'POST', '/api/v1/api-keys', {
      name: 'stream reader',
      scopes: ['tasks:read', 'tasks:write'],
    });
    const { api_key: key, key_id: keyId } = created.json<{ api_key: string; key_id: string }>();
    const keyed = await openStream(carol, { 'x-api-key': key });
    const bearerStream = await openStream(carol);
    expect((await as(carol.accessToken, 'DELETE', `/api/v1/api-keys/${keyId}`)).statusCode).toBe(204);
    await keyed.client.ended;
    expect(keyed.client.body).toContain(`: ${ENDED}`);
    expect(bearerStream.client.isEnded).toBe(false);
    expect((await as(carol.accessToken, 'POST', '/api/v1/auth/logout-all')).statusCode).toBe(204);
    await bearerStream.client.ended;
    expect(bearerStream.client.body).toContain(`: ${ENDED}`);
  });

  it('a long-poll claim waiting when its node’s owner is disabled leases nothing to that node', async () => {
    const [alice, dave, erin] = await Promise.all(
      ['alice', 'dave', 'erin'].map((prefix) => newSession(ctx.app, prefix)),
    );
    const claims = ctx.app.get(ClaimService);
    const daveNode = await TestAgent.register(ctx.app, bearer(dave.accessToken));
    const waitingBefore = claims.waiting;
    const daves = daveNode.claim({ max: 1, wait_ms: 2_000 });
    await eventually(() => expect(claims.waiting).toBe(waitingBefore + 1));
    const disabled = await as(ctx.admin.accessToken, 'PATCH', `/api/v1/admin/users/${dave.userId}`, {
      disabled: true,
    });
    expect(disabled.statusCode).toBe(200);
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    expect(await daves).toEqual([]);
    expect((await getTask(ctx.app, task.task_id, bearer(alice.accessToken))).status).toBe('pending');
    // Negative control: an enabled owner's node claims the same task.
    const erinNode = await TestAgent.register(ctx.app, bearer(erin.accessToken));
    const [run] = await erinNode.claim({ max: 1, wait_ms: 0 });
    expect(run.task_id).toBe(task.task_id);
  });
});
