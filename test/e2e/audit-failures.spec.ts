import type { Response } from 'light-my-request';
import { SYSTEM_ACCOUNT_PASSWORD_HASH } from '../../src/users/users.repository';
import { AdminSession, useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, newSession, requestAs, uniqueName } from '../support/auth';

interface AuditEntry {
  action: string;
  status: string;
  user_id: string | null;
  resource_type: string | null;
  resource_id: string | null;
  error_message: string | null;
  request_id: string | null;
  metadata: Record<string, unknown> | null;
}

/**
 * Refused attempts leave failure rows an admin can read after an incident, although the request answers 4xx
 * (and its transaction, where it had one, rolled back). Each refusal's answer is the one it always was.
 */
describe('the audit log records refused attempts', () => {
  const ctx = useAdminApp();
  let admin: AdminSession;

  beforeAll(() => {
    admin = ctx.admin;
  });

  const as: ReturnType<typeof requestAs> = (...args) => requestAs(ctx.app)(...args);

  /** The rows of `action` the request that got `res` wrote, read back through the admin API. */
  const rowsOf = async (action: string, res: Response): Promise<AuditEntry[]> => {
    const requestId = res.headers['x-request-id'];
    expect(requestId).toEqual(expect.any(String));
    const page = await as(admin.accessToken, 'GET', `/api/v1/admin/audit-log?limit=100&action=${action}`);
    expect(page.statusCode).toBe(200);
    return page.json<{ items: AuditEntry[] }>().items.filter((e) => e.request_id === requestId);
  };

  it('records a refused change of the last active admin as a failure of each change attempted', async () => {
    const url = `/api/v1/admin/users/${admin.userId}`;
    const res = await as(admin.accessToken, 'PATCH', url, { role: 'user', disabled: true });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: 'conflict', reason: 'last_admin' });
    const failure = {
      status: 'failure',
      user_id: admin.userId,
      resource_type: 'user',
      resource_id: admin.userId,
      error_message: 'last_admin',
    };
    expect(await rowsOf('admin.role_changed', res)).toEqual([
      expect.objectContaining({ ...failure, metadata: { role: { from: 'admin', to: 'user' } } }),
    ]);
    expect(await rowsOf('admin.user_disabled', res)).toEqual([
      expect.objectContaining({ ...failure, metadata: { disabled: true } }),
    ]);
    expect((await as(admin.accessToken, 'GET', '/api/v1/auth/me')).json().role).toBe('admin');
  });

  it('records a refused change of a built-in system account', async () => {
    const [{ user_id: systemId }] = await ctx.dataSource.query(
      `INSERT INTO users (username, password_hash, role, disabled_at)
       VALUES ('system_embedded_7', $1, 'user', now()) RETURNING user_id`,
      [SYSTEM_ACCOUNT_PASSWORD_HASH],
    );
    try {
      const res = await as(admin.accessToken, 'PATCH', `/api/v1/admin/users/${systemId}`, {
        role: 'admin',
        disabled: false,
        password: 'a new long password',
      });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({
        error: 'forbidden',
        message:
          'system_embedded_7 is a built-in system account: its role, status and password cannot be changed',
      });
      const failure = {
        status: 'failure',
        user_id: admin.userId,
        resource_type: 'user',
        resource_id: systemId,
        error_message: 'system_account',
      };
      expect(await rowsOf('admin.role_changed', res)).toEqual([
        expect.objectContaining({ ...failure, metadata: { role: { from: 'user', to: 'admin' } } }),
      ]);
      expect(await rowsOf('admin.user_enabled', res)).toEqual([
        expect.objectContaining({ ...failure, metadata: { disabled: false } }),
      ]);
      expect(await rowsOf('admin.password_reset', res)).toEqual([
        expect.objectContaining({ ...failure, metadata: {} }),
      ]);
      // Nothing was set: a system account keeps the hash nobody can log in with.
      const [kept] = await ctx.dataSource.query(`SELECT password_hash FROM users WHERE user_id = $1`, [
        systemId,
      ]);
      expect(kept.password_hash).toBe(SYSTEM_ACCOUNT_PASSWORD_HASH);
    } finally {
      await ctx.dataSource.query(`DELETE FROM users WHERE user_id = $1`, [systemId]);
    }
  });

  it('records a registration refused for a taken username, without the password', async () => {
    const session = await newSession(ctx.app, 'taken');
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { username: session.username, password: 'another secret pass' },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: 'conflict', message: 'That username or email is taken' });
    const rows = await rowsOf('auth.register', res);
    expect(rows).toEqual([
      expect.objectContaining({
        status: 'failure',
        user_id: null,
        error_message: 'username or email taken',
        metadata: { username: session.username },
      }),
    ]);
    expect(JSON.stringify(rows)).not.toContain('another secret pass');
  });

  it('records refreshes with an unknown, a revoked or an expired token, and a reuse only as a reuse', async () => {
    const refresh = (token: string) =>
      ctx.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token } });
    const expect401 = (res: Response) => {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({
        error: 'unauthorized',
        message: 'Invalid or expired refresh token',
      });
    };
    const failure = { action: 'auth.refresh', status: 'failure' };

    const unknown = await refresh(`rt_${'x'.repeat(43)}`);
    expect401(unknown);
    expect(await rowsOf('auth.refresh', unknown)).toEqual([
      expect.objectContaining({
        ...failure,
        user_id: null,
        resource_id: null,
        error_message: 'unknown_token',
      }),
    ]);

    const loggedOut = await newSession(ctx.app, 'refresh_revoked');
    const logout = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      payload: { refresh_token: loggedOut.refreshToken },
    });
    expect(logout.statusCode).toBe(204);
    const revoked = await refresh(loggedOut.refreshToken);
    expect401(revoked);
    expect(await rowsOf('auth.refresh', revoked)).toEqual([
      expect.objectContaining({
        ...failure,
        user_id: loggedOut.userId,
        resource_type: 'refresh_token_family',
        error_message: 'revoked_token',
      }),
    ]);

    const old = await newSession(ctx.app, 'refresh_expired');
    await ctx.dataSource.query(
      `UPDATE refresh_tokens SET expires_at = now() - interval '1 hour', family_expires_at = now() - interval '1 hour'
       WHERE user_id = $1`,
      [old.userId],
    );
    const expired = await refresh(old.refreshToken);
    expect401(expired);
    expect(await rowsOf('auth.refresh', expired)).toEqual([
      expect.objectContaining({ ...failure, user_id: old.userId, error_message: 'family_expired' }),
    ]);

    const replayed = await newSession(ctx.app, 'refresh_reused');
    expect((await refresh(replayed.refreshToken)).statusCode).toBe(200);
    const reuse = await refresh(replayed.refreshToken);
    expect401(reuse);
    expect(await rowsOf('auth.refresh', reuse)).toEqual([]);
    expect(await rowsOf('auth.refresh_reuse_detected', reuse)).toHaveLength(1);
  });

  it('records a key asking for scopes its creator does not hold, on creation and on rotation', async () => {
    const user = await newSession(ctx.app, 'escalating');
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: bearer(user.accessToken),
      payload: { name: uniqueName('k'), scopes: ['tasks:read', 'admin:users'] },
    });
    expect(created.statusCode).toBe(403);
    expect(created.json()).toMatchObject({
      error: 'forbidden',
      message: 'You cannot grant scope: admin:users',
    });
    expect(await rowsOf('api_key.created', created)).toEqual([
      expect.objectContaining({
        status: 'failure',
        user_id: user.userId,
        resource_id: null,
        error_message: 'scope_not_held',
        metadata: { refused_scopes: ['admin:users'] },
      }),
    ]);

    // A key narrowed to keys:manage cannot rotate the default key, which holds more.
    const narrow = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: bearer(user.accessToken),
      payload: { name: 'narrow', scopes: ['keys:manage'] },
    });
    expect(narrow.statusCode).toBe(201);
    const keys = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/api-keys',
      headers: bearer(user.accessToken),
    });
    const defaultKey = keys.json<{ key_id: string; name: string }[]>().find((k) => k.name === 'default')!;
    const rotated = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/api-keys/${defaultKey.key_id}/rotate`,
      headers: apiKeyHeader(narrow.json().api_key),
      payload: {},
    });
    expect(rotated.statusCode).toBe(403);
    expect(rotated.json().error).toBe('forbidden');
    expect(rotated.json().message).toMatch(/^You cannot rotate a key with scope: /);
    expect(await rowsOf('api_key.rotated', rotated)).toEqual([
      expect.objectContaining({
        status: 'failure',
        user_id: user.userId,
        resource_type: 'api_key',
        resource_id: defaultKey.key_id,
        error_message: 'scope_not_held',
        metadata: {
          api_key_id: narrow.json().key_id,
          refused_scopes: expect.arrayContaining(['tasks:read']),
        },
      }),
    ]);
  });
});
