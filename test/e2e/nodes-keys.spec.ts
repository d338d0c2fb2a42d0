import { NODE_KEY_PAGE_EXAMPLE } from '../../src/nodes/dto/node-keys.dto';
import { useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { heartbeat, RegisteredNode, registerNode } from '../support/nodes';
import { collectPages } from '../support/pages';
import { expect422 } from '../support/validation';

interface NodeKeyView {
  key_id: string;
  key_prefix: string;
  active: boolean;
  created_at: string;
  expires_at: string | null;
  replaced_by: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}
interface Rotation {
  key_id: string;
  node_api_key: string;
  previous_key_expires_at: string | null;
}

/** GET /nodes/:node_id/keys: a node's key history, for its owner and admins, never with a secret. */
describe('listing a node’s keys', () => {
  const ctx = useAdminApp();
  let owner: Session;

  beforeAll(async () => {
    owner = await newSession(ctx.app, 'keylister');
  });

  const listKeys = (nodeId: string, headers: Record<string, string>, query = '') =>
    ctx.app.inject({ method: 'GET', url: `/api/v1/nodes/${nodeId}/keys${query}`, headers });
  const itemsOf = async (nodeId: string, headers: Record<string, string> = bearer(owner.accessToken)) => {
    const res = await listKeys(nodeId, headers, '?limit=100');
    expect(res.statusCode).toBe(200);
    return res.json<{ items: NodeKeyView[]; next_cursor: string | null }>().items;
  };
  const rotate = async (nodeId: string, grace: number): Promise<Rotation> => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/nodes/${nodeId}/keys`,
      headers: bearer(owner.accessToken),
      payload: { grace_seconds: grace },
    });
    expect(res.statusCode).toBe(201);
    return res.json<Rotation>();
  };
  const keyIdOf = async (node: RegisteredNode): Promise<string> => {
    const [row] = await ctx.dataSource.query<{ key_id: string }[]>(
      `SELECT key_id FROM api_keys WHERE node_id = $1 AND key_prefix = $2`,
      [node.node_id, node.node_api_key.slice(0, 12)],
    );
    return row.key_id;
  };

  it('shows each rotation: the old key’s grace end and successor, then its revocation, newest first', async () => {
    const node = await registerNode(ctx.app, bearer(owner.accessToken));
    const firstId = await keyIdOf(node);
    const [registered] = await itemsOf(node.node_id);
    expect(registered).toEqual({
      key_id: firstId,
      key_prefix: node.node_api_key.slice(0, 12),
      active: true,
      created_at: expect.any(String),
      expires_at: null,
      replaced_by: null,
      last_used_at: null,
      revoked_at: null,
    });

    const graceful = await rotate(node.node_id, 600);
    const afterGrace = await itemsOf(node.node_id);
    expect(afterGrace.map((key) => key.key_id)).toEqual([graceful.key_id, firstId]);
    expect(afterGrace[0]).toMatchObject({ active: true, expires_at: null, replaced_by: null });
    // The grace end the rotation answered, and the one the old key's Sunset header carries.
    expect(afterGrace[1]).toMatchObject({
      active: true,
      expires_at: graceful.previous_key_expires_at,
      replaced_by: graceful.key_id,
      revoked_at: null,
    });
    const beat = await heartbeat(ctx.app, node.node_id, apiKeyHeader(node.node_api_key));
    expect(beat.headers.sunset).toBe(new Date(afterGrace[1].expires_at!).toUTCString());

    // Written off the request path: polled, not waited for.
    await eventually(async () => {
      const [, old] = await itemsOf(node.node_id);
      expect(old.last_used_at).not.toBeNull();
    });

    const abrupt = await rotate(node.node_id, 0);
    const after = await itemsOf(node.node_id);
    expect(after.map((key) => [key.key_id, key.active])).toEqual([
      [abrupt.key_id, true],
      [graceful.key_id, false],
      [firstId, false],
    ]);
    for (const old of after.slice(1)) {
      expect(old).toMatchObject({ replaced_by: abrupt.key_id, revoked_at: expect.any(String) });
    }
  });

  it('keeps a key whose grace has ended, marked inactive, and never shows a key or its hash', async () => {
    const node = await registerNode(ctx.app, bearer(owner.accessToken));
    const next = await rotate(node.node_id, 3600);
    const oldId = await keyIdOf(node);
    // The grace ends (by the database's clock, which judges expiry for authentication too).
    await ctx.dataSource.query(
      `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE key_id = $1`,
      [oldId],
    );
    const res = await listKeys(node.node_id, bearer(owner.accessToken));
    const [current, ended] = res.json<{ items: NodeKeyView[] }>().items;
    expect(current).toMatchObject({ key_id: next.key_id, active: true });
    expect(ended).toMatchObject({
      key_id: oldId,
      active: false,
      revoked_at: null,
      replaced_by: next.key_id,
      expires_at: expect.any(String),
    });
    expect((await heartbeat(ctx.app, node.node_id, apiKeyHeader(node.node_api_key))).statusCode).toBe(401);

    // Later rotations, graceful and abrupt, leave the ended key's history as it was: replaced by `next`, not
    // by the newest key, and never revoked (it had ended before).
    const later = await rotate(node.node_id, 600);
    const abrupt = await rotate(node.node_id, 0);
    const history = await itemsOf(node.node_id);
    expect(history.map((key) => [key.key_id, key.active, key.replaced_by, key.revoked_at !== null])).toEqual([
      [abrupt.key_id, true, null, false],
      [later.key_id, false, abrupt.key_id, true],
      [next.key_id, false, abrupt.key_id, true],
      [oldId, false, next.key_id, false],
    ]);

    const hashes = await ctx.dataSource.query<{ key_hash: string }[]>(
      `SELECT key_hash FROM api_keys WHERE node_id = $1`,
      [node.node_id],
    );
    expect(hashes).toHaveLength(4);
    for (const secret of [node.node_api_key, next.node_api_key, ...hashes.map((row) => row.key_hash)]) {
      expect(res.body).not.toContain(secret);
    }
  });

  it('lists only that node’s keys: not the owner’s API keys, not another node’s', async () => {
    const mine = await registerNode(ctx.app, bearer(owner.accessToken));
    const sibling = await registerNode(ctx.app, bearer(owner.accessToken));
    await rotate(sibling.node_id, 0);
    const items = await itemsOf(mine.node_id);
    expect(items.map((key) => key.key_id)).toEqual([await keyIdOf(mine)]);
    expect(await itemsOf(sibling.node_id)).toHaveLength(2);
  });

  describe('who may list them', () => {
    let node: RegisteredNode;
    beforeAll(async () => {
      node = await registerNode(ctx.app, bearer(owner.accessToken));
    });

    it('the owner and an admin see the same list', async () => {
      const asOwner = await itemsOf(node.node_id);
      expect(asOwner).toHaveLength(1);
      expect(await itemsOf(node.node_id, bearer(ctx.admin.accessToken))).toEqual(asOwner);
    });

    it('another user gets the 404 of a missing node, with a token or a key', async () => {
      const stranger = await newSession(ctx.app, 'keysnoop');
      const missing = await listKeys('no-such-node', bearer(stranger.accessToken));
      expect(missing.statusCode).toBe(404);
      for (const headers of [bearer(stranger.accessToken), apiKeyHeader(stranger.apiKey)]) {
        const hidden = await listKeys(node.node_id, headers);
        expect({ status: hidden.statusCode, error: hidden.json().error }).toEqual({
          status: missing.statusCode,
          error: missing.json().error,
        });
        // As reading the node itself answers.
        const read = await ctx.app.inject({ method: 'GET', url: `/api/v1/nodes/${node.node_id}`, headers });
        expect(read.statusCode).toBe(hidden.statusCode);
      }
    });

    it('the node’s own key is refused (403), as it is on reading the node', async () => {
      const own = apiKeyHeader(node.node_api_key);
      expect((await heartbeat(ctx.app, node.node_id, own)).statusCode).toBe(200); // the key works
      const res = await listKeys(node.node_id, own);
      expect({ status: res.statusCode, error: res.json().error }).toEqual({
        status: 403,
        error: 'forbidden',
      });
    });

    it('a deleted node’s keys are gone with it (404)', async () => {
      const doomed = await registerNode(ctx.app, bearer(owner.accessToken));
      await ctx.app.inject({
        method: 'DELETE',
        url: `/api/v1/nodes/${doomed.node_id}`,
        headers: bearer(owner.accessToken),
      });
      expect((await listKeys(doomed.node_id, bearer(ctx.admin.accessToken))).statusCode).toBe(404);
    });
  });

  it('pages with next_cursor, also through keys created within one millisecond; refuses bad paging', async () => {
    const node = await registerNode(ctx.app, bearer(owner.accessToken));
    for (let i = 0; i < 4; i++) await rotate(node.node_id, 0);
    // A cursor carries milliseconds, the database microseconds.
    await ctx.dataSource.query(
      `UPDATE api_keys SET created_at = timestamptz '2026-06-01 12:00:00.123000+00'
                                        + (random() * 999)::int * interval '1 microsecond'
        WHERE node_id = $1`,
      [node.node_id],
    );
    const all = await itemsOf(node.node_id);
    expect(all).toHaveLength(5);
    const paged = await collectPages<NodeKeyView>((cursor) =>
      listKeys(node.node_id, bearer(owner.accessToken), `?limit=2${cursor ? `&cursor=${cursor}` : ''}`),
    );
    expect(paged.map((key) => key.key_id)).toEqual(all.map((key) => key.key_id));
    expect(new Set(paged.map((key) => key.key_id)).size).toBe(5);

    expect422(await listKeys(node.node_id, bearer(owner.accessToken), '?cursor=bogus'), 'cursor');
    expect422(await listKeys(node.node_id, bearer(owner.accessToken), '?limit=0'), 'limit');
    expect422(await listKeys(node.node_id, bearer(owner.accessToken), '?limit=101'), 'limit');
  });

  it('documents an example with the fields a real answer has', async () => {
    const node = await registerNode(ctx.app, bearer(owner.accessToken));
    const [real] = await itemsOf(node.node_id);
    for (const item of NODE_KEY_PAGE_EXAMPLE.items)
      expect(Object.keys(item).sort()).toEqual(Object.keys(real).sort());
    const doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    const ok = doc.paths['/api/v1/nodes/{node_id}/keys'].get.responses['200'].content['application/json'];
    expect(ok.example).toEqual(NODE_KEY_PAGE_EXAMPLE);
  });
});
