import { useTestApp } from '../support/app';
import { apiKeyHeader, bearer, login, newSession, Session } from '../support/auth';
import { heartbeat, RegisteredNode, registerNode } from '../support/nodes';
import { collectPages } from '../support/pages';

const ADMIN = { username: 'access_admin', password: 'admin password 123' };

/** Acceptance 2 of the nodes issue, on a real database: nodes are private to their owner (and admins). */
describe('who may see and act on a node', () => {
  const ctx = useTestApp({ env: { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password } });
  let alice: Session;
  let bob: Session;
  let admin: string;
  let alicesNode: RegisteredNode;
  let bobsNode: RegisteredNode;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
    admin = (await login(ctx.app, ADMIN.username, ADMIN.password)).access_token;
    alicesNode = await registerNode(ctx.app, apiKeyHeader(alice.apiKey), { node_type: 'storage' });
    bobsNode = await registerNode(ctx.app, apiKeyHeader(bob.apiKey));
  });

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, headers: Record<string, string>) =>
    ctx.app.inject({ method, url: `/api/v1${url}`, headers });

  it('another user gets 404 for every operation on the node, and does not see it listed', async () => {
    const id = alicesNode.node_id;
    for (const headers of [bearer(bob.accessToken), apiKeyHeader(bob.apiKey)]) {
      expect((await call('GET', `/nodes/${id}`, headers)).statusCode).toBe(404);
      expect((await call('GET', `/nodes/${id}/heartbeats`, headers)).statusCode).toBe(404);
      expect((await heartbeat(ctx.app, id, headers)).statusCode).toBe(404);
      expect((await call('POST', `/nodes/${id}/reject`, headers)).statusCode).toBe(404);
      expect((await call('DELETE', `/nodes/${id}`, headers)).statusCode).toBe(404);
      const listed = await call('GET', '/nodes', headers);
      expect(listed.json<{ items: { node_id: string }[] }>().items.map((n) => n.node_id)).toEqual([
        bobsNode.node_id,
      ]);
    }
    // A missing node and another user's node answer alike.
    const missing = await call('GET', '/nodes/no-such-node', bearer(bob.accessToken));
    const hidden = await call('GET', `/nodes/${id}`, bearer(bob.accessToken));
    expect({ status: hidden.statusCode, error: hidden.json().error }).toEqual({
      status: missing.statusCode,
      error: missing.json().error,
    });
    expect((await call('GET', '/nodes?all=true', bearer(bob.accessToken))).statusCode).toBe(403);
  });

  it('the owner and an admin can; an admin lists everyone’s nodes with owners, and filters', async () => {
    const id = alicesNode.node_id;
    expect((await call('GET', `/nodes/${id}`, bearer(alice.accessToken))).json().owner_id).toBe(alice.userId);
    const asAdmin = await call('GET', `/nodes/${id}`, bearer(admin));
    expect(asAdmin.json()).toMatchObject({ node_id: id, owner_id: alice.userId });
    expect((await heartbeat(ctx.app, id, bearer(admin), { cpu_usage: 5 })).statusCode).toBe(200);
    expect((await call('GET', `/nodes/${id}/heartbeats`, bearer(admin))).statusCode).toBe(200);

    const all = await call('GET', '/nodes?all=true&limit=100', bearer(admin));
    const items = all.json<{ items: { node_id: string; owner_id: string }[] }>().items;
    expect(items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ node_id: id, owner_id: alice.userId }),
        expect.objectContaining({ node_id: bobsNode.node_id, owner_id: bob.userId }),
      ]),
    );
    const storage = await call('GET', '/nodes?all=true&node_type=storage', bearer(admin));
    expect(storage.json<{ items: { node_id: string }[] }>().items.map((n) => n.node_id)).toEqual([id]);
    const ownOnly = await call('GET', '/nodes', bearer(admin));
    expect(ownOnly.json().items).toEqual([]);
    expect((await call('GET', '/nodes?status=sleeping', bearer(admin))).statusCode).toBe(422);
  });

  it('pages with next_cursor and no duplicates, also through nodes registered within one millisecond', async () => {
    const carol = await newSession(ctx.app, 'carol');
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await registerNode(ctx.app, bearer(carol.accessToken))).node_id);
    // A cursor carries milliseconds, the database microseconds.
    await ctx.dataSource.query(
      `UPDATE nodes SET registered_at = timestamptz '2026-06-01 12:00:00.123000+00' + (random() * 999)::int * interval '1 microsecond'
        WHERE node_id = ANY($1::varchar[])`,
      [ids],
    );
    const seen = await collectPages<{ node_id: string }>((cursor) =>
      call('GET', `/nodes?limit=2${cursor ? `&cursor=${cursor}` : ''}`, bearer(carol.accessToken)),
    );
    expect(seen.map((n) => n.node_id).sort()).toEqual(ids.sort());
    expect((await call('GET', '/nodes?cursor=bogus', bearer(carol.accessToken))).statusCode).toBe(422);
  });

  it('a node key acts only for its node: another node is 404, user routes are 403', async () => {
    const key = apiKeyHeader(alicesNode.node_api_key);
    // The original agent sent no body at all.
    const bare = await ctx.app.inject({
      method: 'PUT',
      url: `/api/v1/nodes/${alicesNode.node_id}/heartbeat`,
      headers: key,
    });
    expect(bare.json()).toMatchObject({ message: 'Heartbeat received', node_id: alicesNode.node_id });
    expect((await heartbeat(ctx.app, alicesNode.node_id, key)).statusCode).toBe(200);
    expect((await heartbeat(ctx.app, bobsNode.node_id, key)).statusCode).toBe(404);
    expect((await call('GET', `/nodes/${alicesNode.node_id}`, key)).statusCode).toBe(403);
    expect((await call('GET', '/nodes', key)).statusCode).toBe(403);
    expect((await call('GET', '/api-keys', key)).statusCode).toBe(403);
    expect((await call('GET', '/auth/api-key/validate', key)).statusCode).toBe(403);
    expect((await call('DELETE', `/nodes/${alicesNode.node_id}`, key)).statusCode).toBe(403);
    // Alice's own credentials are not the node's: her key heartbeats as the owner, never as an agent.
    expect((await heartbeat(ctx.app, alicesNode.node_id, apiKeyHeader(alice.apiKey))).statusCode).toBe(200);
  });

  it('an admin can reject and delete another user’s node; its key dies at once', async () => {
    const node = await registerNode(ctx.app, bearer(bob.accessToken));
    expect((await call('POST', `/nodes/${node.node_id}/reject`, bearer(admin))).json().status).toBe(
      'rejected',
    );
    expect((await call('DELETE', `/nodes/${node.node_id}`, bearer(admin))).statusCode).toBe(200);
    expect((await call('GET', `/nodes/${node.node_id}`, bearer(bob.accessToken))).statusCode).toBe(404);
    expect((await heartbeat(ctx.app, node.node_id, apiKeyHeader(node.node_api_key))).statusCode).toBe(401);
  });
});
