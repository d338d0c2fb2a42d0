import { useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, newSession } from '../support/auth';
import { MAX_LIVE_KEYS_PER_USER } from '../../src/api-keys/api-keys.service';

type Credential = Record<string, string>;

/** Issue 13 rows 7 and 8: what a rotation may hand out, and the live-key cap during grace periods. */
describe('API key rotation limits', () => {
  const ctx = useAdminApp({ database: 'postgres' });

  const call = (method: 'GET' | 'POST', url: string, headers: Credential, payload?: object) =>
    ctx.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });

  const createKey = async (owner: Credential, scopes: string[], name = 'k') => {
    const res = await call('POST', '/api-keys', owner, { name, scopes });
    expect(res.statusCode).toBe(201);
    return res.json<{ key_id: string; api_key: string; scopes: string[] }>();
  };

  const liveKeyCount = async (userId: string) => {
    const [row] = await ctx.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM api_keys
        WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [userId],
    );
    return row.n;
  };

  describe('rotating needs every scope of the key being rotated (row 7)', () => {
    it('a keys:manage-only user key cannot rotate a wider key of its owner; the owner’s token can', async () => {
      const owner = await newSession(ctx.app, 'rot7');
      const wide = await createKey(bearer(owner.accessToken), ['tasks:read', 'tasks:write', 'keys:manage']);
      const narrow = await createKey(bearer(owner.accessToken), ['keys:manage']);

      const refused = await call('POST', `/api-keys/${wide.key_id}/rotate`, apiKeyHeader(narrow.api_key), {});
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ error: 'forbidden' });
      expect(refused.body).not.toMatch(/vcp_[0-9A-Za-z]{46}/);
      // Nothing changed: the wide key still works and was not replaced.
      expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(wide.api_key))).statusCode).toBe(200);
      expect(await liveKeyCount(owner.userId)).toBe(3); // the default key, wide, narrow

      const allowed = await call('POST', `/api-keys/${wide.key_id}/rotate`, bearer(owner.accessToken), {});
      expect(allowed.statusCode).toBe(201);
      expect(allowed.json().scopes).toEqual(wide.scopes);
    });

    it('a key may rotate itself, and a key holding a superset may rotate a narrower one', async () => {
      const owner = await newSession(ctx.app, 'rot7b');
      const manager = await createKey(bearer(owner.accessToken), ['tasks:read', 'keys:manage']);
      const reader = await createKey(bearer(owner.accessToken), ['tasks:read']);
      const other = await call(
        'POST',
        `/api-keys/${reader.key_id}/rotate`,
        apiKeyHeader(manager.api_key),
        {},
      );
      expect(other.statusCode).toBe(201);
      const itself = await call(
        'POST',
        `/api-keys/${manager.key_id}/rotate`,
        apiKeyHeader(manager.api_key),
        {},
      );
      expect(itself.statusCode).toBe(201);
      expect(itself.json().scopes).toEqual(['tasks:read', 'keys:manage']);
    });

    it('an admin key narrowed to keys:manage cannot rotate the admin’s admin:* key into its hands', async () => {
      const admin = bearer(ctx.admin.accessToken);
      const wide = await createKey(admin, ['admin:users', 'admin:circuits', 'keys:manage'], 'admin-wide');
      const narrow = await createKey(admin, ['keys:manage'], 'admin-narrow');
      const refused = await call('POST', `/api-keys/${wide.key_id}/rotate`, apiKeyHeader(narrow.api_key), {
        grace_seconds: 60,
      });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().message).toContain('admin:users');
      expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(wide.api_key))).statusCode).toBe(200);
      const allowed = await call('POST', `/api-keys/${wide.key_id}/rotate`, admin, {});
      expect(allowed.statusCode).toBe(201);
      expect(allowed.json().scopes).toEqual(['admin:users', 'admin:circuits', 'keys:manage']);
    });
  });

  describe('keys in their grace period count toward the live-key cap (row 8)', () => {
    it(`refuses a rotation with grace at ${MAX_LIVE_KEYS_PER_USER} live keys, allows one without`, async () => {
      const owner = await newSession(ctx.app, 'cap8');
      const token = bearer(owner.accessToken);
      const made = [];
      for (let i = 1; i < MAX_LIVE_KEYS_PER_USER; i++) made.push(await createKey(token, ['tasks:read']));
      expect(await liveKeyCount(owner.userId)).toBe(MAX_LIVE_KEYS_PER_USER);

      const withGrace = await call('POST', `/api-keys/${made[0].key_id}/rotate`, token, {
        grace_seconds: 600,
      });
      expect(withGrace.statusCode).toBe(409);
      expect(withGrace.json()).toMatchObject({ error: 'conflict' });
      expect(await liveKeyCount(owner.userId)).toBe(MAX_LIVE_KEYS_PER_USER);
      expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(made[0].api_key))).statusCode).toBe(
        200,
      );

      const withoutGrace = await call('POST', `/api-keys/${made[0].key_id}/rotate`, token, {});
      expect(withoutGrace.statusCode).toBe(201);
      expect(await liveKeyCount(owner.userId)).toBe(MAX_LIVE_KEYS_PER_USER);
    });

    it('lets grace rotations fill the cap and no further', async () => {
      const owner = await newSession(ctx.app, 'cap8b');
      const token = bearer(owner.accessToken);
      for (let i = 1; i < MAX_LIVE_KEYS_PER_USER - 2; i++) await createKey(token, ['tasks:read']);
      let current = await createKey(token, ['tasks:read'], 'chain');
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await call('POST', `/api-keys/${current.key_id}/rotate`, token, { grace_seconds: 600 });
        statuses.push(res.statusCode);
        if (res.statusCode === 201) current = res.json();
      }
      expect(statuses).toEqual([201, 409, 409]);
      expect(await liveKeyCount(owner.userId)).toBe(MAX_LIVE_KEYS_PER_USER);
    });
  });

  describe('a key in its grace period is already replaced', () => {
    it('rotating it again is a 409 naming its successor, which keeps the old key’s expiry', async () => {
      const owner = await newSession(ctx.app, 'regrace');
      const token = bearer(owner.accessToken);
      const old = await createKey(token, ['tasks:read'], 'once');
      const rotate = () => call('POST', `/api-keys/${old.key_id}/rotate`, token, { grace_seconds: 100 });
      const first = await rotate();
      expect([first.statusCode, first.json().expires_at]).toEqual([201, null]);
      for (const again of [await rotate(), await call('POST', `/api-keys/${old.key_id}/rotate`, token, {})]) {
        expect(again.statusCode).toBe(409);
        expect(again.json()).toEqual({
          error: 'conflict',
          message: expect.stringContaining(`rotate its successor ${first.json().key_id}`),
          request_id: expect.any(String),
        });
      }
      // The old key still works for its grace; its one successor can be rotated as usual.
      expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(old.api_key))).statusCode).toBe(200);
      const next = await call('POST', `/api-keys/${first.json().key_id}/rotate`, token, {
        grace_seconds: 100,
      });
      expect([next.statusCode, next.json().expires_at]).toEqual([201, null]);
      expect(await liveKeyCount(owner.userId)).toBe(4); // default key, old, first, next
    });

    it('concurrent rotations of one key take turns: one 201, the rest 409', async () => {
      const owner = await newSession(ctx.app, 'regrace2');
      const token = bearer(owner.accessToken);
      const old = await createKey(token, ['tasks:read']);
      const statuses = await Promise.all(
        [100, 100, 0, 100].map((grace) =>
          call('POST', `/api-keys/${old.key_id}/rotate`, token, { grace_seconds: grace }).then(
            (res) => res.statusCode,
          ),
        ),
      );
      expect(statuses.sort()).toEqual([201, 409, 409, 409]);
      const [row] = await ctx.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1 AND name = 'k'`,
        [owner.userId],
      );
      expect(row.n).toBe(2);
    });
  });
});
