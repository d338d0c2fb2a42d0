import { API_KEY_CACHE_TTL_MS } from '../../src/api-keys/api-key-auth.service';
import { FakeClock } from '../../src/common/clock/fake-clock';
import { useTestApp } from '../support/app';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { heartbeat, registerNode } from '../support/nodes';

interface KeyView {
  key_id: string;
  api_key: string;
  expires_at: string | null;
  replaced_by: string | null;
}

/** The HTTP-date a Sunset header carries for a stored expiry (seconds: an HTTP-date has no finer unit). */
const httpDate = (iso: string) => new Date(iso).toUTCString();

/**
 * Answers to requests authenticated by an API key that is about to stop working say so (RFC 8594 `Sunset`,
 * and the successor's id after a rotation), so whoever still uses it learns before the 401.
 */
describeEachDatabase('the end of an API key announced on its answers on %s', (database) => {
  const clock = new FakeClock();
  const ctx = useTestApp({ database, clock });
  let owner: Session;

  beforeAll(async () => {
    owner = await newSession(ctx.app, 'sunset');
  });

  const call = (method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: object) =>
    ctx.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });
  const createKey = async (payload: object): Promise<KeyView> => {
    const res = await call('POST', '/api-keys', bearer(owner.accessToken), payload);
    expect(res.statusCode).toBe(201);
    return res.json<KeyView>();
  };
  const listed = async (keyId: string): Promise<KeyView> => {
    const all = (await call('GET', '/api-keys', bearer(owner.accessToken))).json<KeyView[]>();
    return all.find((key) => key.key_id === keyId)!;
  };
  const validate = (key: string) => call('GET', '/auth/api-key/validate', apiKeyHeader(key));

  it('a key with an expiry: every answer it authenticates carries Sunset, 403s included; others do not', async () => {
    const expiresAt = '2099-03-04T05:06:07.890Z';
    const key = await createKey({ name: 'expiring', scopes: ['tasks:read'], expires_at: expiresAt });
    const ok = await validate(key.api_key);
    expect(ok.statusCode).toBe(200);
    expect(ok.headers.sunset).toBe('Wed, 04 Mar 2099 05:06:07 GMT');
    expect(ok.headers['x-api-key-replaced-by']).toBeUndefined();
    // Authenticated but not allowed: the key still works, and still ends.
    const denied = await call('GET', '/api-keys', apiKeyHeader(key.api_key));
    expect(denied.statusCode).toBe(403);
    expect(denied.headers.sunset).toBe(httpDate(expiresAt));

    const forever = await createKey({ name: 'forever', scopes: ['tasks:read'] });
    expect((await validate(forever.api_key)).headers).not.toHaveProperty('sunset');
    expect((await call('GET', '/auth/me', bearer(owner.accessToken))).headers).not.toHaveProperty('sunset');
  });

  it('a rotation with grace on this replica shows at once on the old key, with its successor', async () => {
    const key = await createKey({ name: 'rotating', scopes: ['tasks:read'] });
    expect((await validate(key.api_key)).headers).not.toHaveProperty('sunset'); // cached without an end
    const rotated = await call('POST', `/api-keys/${key.key_id}/rotate`, bearer(owner.accessToken), {
      grace_seconds: 3600,
    });
    expect(rotated.statusCode).toBe(201);
    const next = rotated.json<KeyView>();

    const old = await validate(key.api_key);
    expect(old.statusCode).toBe(200);
    const graceEnd = (await listed(key.key_id)).expires_at!;
    expect(old.headers.sunset).toBe(httpDate(graceEnd));
    expect(old.headers['x-api-key-replaced-by']).toBe(next.key_id);
    // The owner's list tells the pair apart: the old key names its successor and ends with the grace.
    expect(await listed(key.key_id)).toMatchObject({ replaced_by: next.key_id, expires_at: graceEnd });
    expect(await listed(next.key_id)).toMatchObject({ replaced_by: null, expires_at: null });
    expect((await validate(next.api_key)).headers).not.toHaveProperty('sunset');
  });

  it('a rotation on another replica shows here within the cache window a revocation has', async () => {
    const key = await createKey({ name: 'elsewhere', scopes: ['tasks:read'] });
    const successor = await createKey({ name: 'elsewhere-next', scopes: ['tasks:read'] });
    expect((await validate(key.api_key)).headers).not.toHaveProperty('sunset'); // now cached here
    // Another replica rotates it: only the shared database changes (as retireAfterGrace writes it).
    await ctx.dataSource.query(
      `UPDATE api_keys SET replaced_by = $2, expires_at = now() + interval '1 hour' WHERE key_id = $1`,
      [key.key_id, successor.key_id],
    );
    expect((await validate(key.api_key)).headers).not.toHaveProperty('sunset'); // still the cached lookup
    clock.advance(API_KEY_CACHE_TTL_MS);
    const after = await validate(key.api_key);
    expect(after.headers.sunset).toBe(httpDate((await listed(key.key_id)).expires_at!));
    expect(after.headers['x-api-key-replaced-by']).toBe(successor.key_id);
  });

  it('a node key in its grace period: the agent’s heartbeats say when it ends and which key replaces it', async () => {
    const node = await registerNode(ctx.app, bearer(owner.accessToken));
    expect(
      (await heartbeat(ctx.app, node.node_id, apiKeyHeader(node.node_api_key))).headers,
    ).not.toHaveProperty('sunset');
    const rotated = await call('POST', `/nodes/${node.node_id}/keys`, bearer(owner.accessToken), {
      grace_seconds: 600,
    });
    const {
      key_id: successorId,
      node_api_key: successorKey,
      previous_key_expires_at: graceEnd,
    } = rotated.json<{ key_id: string; node_api_key: string; previous_key_expires_at: string }>();

    const beat = await heartbeat(ctx.app, node.node_id, apiKeyHeader(node.node_api_key));
    expect(beat.statusCode).toBe(200);
    expect(beat.headers.sunset).toBe(httpDate(graceEnd));
    expect(beat.headers['x-api-key-replaced-by']).toBe(successorId);
    expect((await heartbeat(ctx.app, node.node_id, apiKeyHeader(successorKey))).headers).not.toHaveProperty(
      'sunset',
    );
  });

  it('a key made or rotated by a key that ends ends no later than it (security: a leaked short key leaves none that last)', async () => {
    const parentEnd = '2099-05-06T07:08:09.000Z';
    const parent = await createKey({
      name: 'short',
      scopes: ['keys:manage', 'tasks:read'],
      expires_at: parentEnd,
    });
    const byParent = (url: string, payload: object) =>
      call('POST', url, apiKeyHeader(parent.api_key), payload);

    const unset = await byParent('/api-keys', { name: 'child', scopes: ['tasks:read'] });
    expect(unset.statusCode).toBe(201);
    expect(unset.json<KeyView>().expires_at).toBe(parentEnd);
    const earlier = await byParent('/api-keys', {
      name: 'child',
      scopes: ['tasks:read'],
      expires_at: '2099-01-01T00:00:00Z',
    });
    expect(earlier.json<KeyView>().expires_at).toBe('2099-01-01T00:00:00.000Z');
    const later = await byParent('/api-keys', {
      name: 'child',
      scopes: ['tasks:read'],
      expires_at: '2100-01-01T00:00:00Z',
    });
    expect(later.statusCode).toBe(422);
    expect(later.json()).toMatchObject({ error: 'validation_error' });
    expect(JSON.stringify(later.json())).toContain(parentEnd); // in the field's message

    // Rotating a key that never ends: its successor ends with the key that rotated it.
    const forever = await createKey({ name: 'forever', scopes: ['tasks:read'] });
    const rotated = await byParent(`/api-keys/${forever.key_id}/rotate`, {});
    expect(rotated.statusCode).toBe(201);
    expect(rotated.json<KeyView>().expires_at).toBe(parentEnd);
    // Negative control: a login session's key (no end of its own) still makes keys that never end.
    expect((await createKey({ name: 'by-login', scopes: ['tasks:read'] })).expires_at).toBeNull();
  });
});
