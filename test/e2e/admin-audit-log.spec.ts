import { AdminSession, useAdminApp } from '../support/admin';
import { login, newSession, requestAs } from '../support/auth';
import { collectPages } from '../support/pages';

/** The audit log: what each security event records, how it pages, and that a login it cannot record fails. */
describe('the audit log', () => {
  const ctx = useAdminApp();
  let admin: AdminSession;

  beforeAll(() => {
    admin = ctx.admin;
  });

  const as: ReturnType<typeof requestAs> = (...args) => requestAs(ctx.app)(...args);

  it('records every security event with its request id, neutralising control characters', async () => {
    const session = await newSession(ctx.app, 'audited');
    const subject = await newSession(ctx.app, 'subject');
    const subjectUrl = `/api/v1/admin/users/${subject.userId}`;
    const adminActions: Record<string, Awaited<ReturnType<typeof as>>> = {};
    adminActions['admin.users_listed'] = await as(admin.accessToken, 'GET', '/api/v1/admin/users?limit=1');
    adminActions['admin.role_changed'] = await as(admin.accessToken, 'PATCH', subjectUrl, { role: 'admin' });
    expect((await as(admin.accessToken, 'PATCH', subjectUrl, { role: 'user' })).statusCode).toBe(200);
    adminActions['admin.user_disabled'] = await as(admin.accessToken, 'PATCH', subjectUrl, {
      disabled: true,
    });
    adminActions['admin.user_enabled'] = await as(admin.accessToken, 'PATCH', subjectUrl, {
      disabled: false,
    });
    adminActions['admin.throttle_overrides_listed'] = await as(
      admin.accessToken,
      'GET',
      '/api/v1/admin/throttle-overrides',
    );
    for (const res of Object.values(adminActions)) expect(res.statusCode).toBe(200);
    const failed = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'user-agent': 'curl\u001b[31m/evil' },
      payload: { username: 'ghost\r\n{"forged":true}', password: 'wrong password' },
    });
    const rotated = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refresh_token: session.refreshToken },
    });
    const replay = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refresh_token: session.refreshToken },
    });
    const again = await login(ctx.app, session.username, session.password);
    const logout = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      payload: { refresh_token: again.refresh_token },
    });
    const logoutAll = await as(again.access_token, 'POST', '/api/v1/auth/logout-all');

    const log = async (query: string) => {
      const res = await as(admin.accessToken, 'GET', `/api/v1/admin/audit-log?limit=100&${query}`);
      expect(res.statusCode).toBe(200);
      return res.json().items as Record<string, any>[];
    };
    const mine = await log(`user_id=${session.userId}`);
    const byAction = (action: string) => mine.filter((e) => e.action === action);
    expect(byAction('auth.register')).toHaveLength(1);
    expect(
      byAction('auth.login')
        .map((e) => e.status)
        .sort(),
    ).toEqual(['success', 'success']);
    expect(byAction('auth.refresh')[0].request_id).toBe(rotated.headers['x-request-id']);
    expect(byAction('auth.refresh_reuse_detected')[0].request_id).toBe(replay.json().request_id);
    expect(byAction('auth.logout')[0].request_id).toBe(logout.headers['x-request-id']);
    expect(byAction('auth.logout_all')[0].request_id).toBe(logoutAll.headers['x-request-id']);
    for (const entry of mine) expect(entry.request_id).toMatch(/^[0-9a-f-]{36}$/);

    const failures = (await log('action=auth.login')).filter(
      (e) => e.request_id === failed.json().request_id,
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ status: 'failure', user_id: null });
    expect(failures[0].metadata.username).toBe('ghost\\u000d\\u000a{"forged":true}');
    expect(failures[0].user_agent).toBe('curl\\u001b[31m/evil');

    const adminEvents = await log(`user_id=${admin.userId}`);
    for (const [action, res] of Object.entries(adminActions)) {
      const requestId = res.headers['x-request-id'];
      expect(adminEvents.filter((e) => e.request_id === requestId).map((e) => e.action)).toContain(action);
    }
    expect((await log('action=admin.audit_viewed')).length).toBeGreaterThan(0);
    const from = new Date(Date.now() - 60_000).toISOString();
    expect((await log(`action=auth.register&from=${from}`)).length).toBeGreaterThan(0);
    expect(await log(`action=auth.register&to=${new Date(0).toISOString()}`)).toEqual([]);
    // A row's own time (shown to the millisecond, stored to the microsecond) as `from` and as `to` finds it.
    const [row] = await log('action=admin.audit_viewed');
    const at = encodeURIComponent(row.created_at);
    const ids = async (query: string) => (await log(query)).map((e) => e.log_id);
    expect(await ids(`action=admin.audit_viewed&from=${at}&to=${at}`)).toContain(row.log_id);
  });

  it('audits a logout only when it ended a live login, marking one made with a used token', async () => {
    const session = await newSession(ctx.app, 'relogout');
    const logout = (refreshToken: string) =>
      ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        payload: { refresh_token: refreshToken },
      });
    const logouts = async () => {
      const res = await as(
        admin.accessToken,
        'GET',
        `/api/v1/admin/audit-log?action=auth.logout&user_id=${session.userId}`,
      );
      expect(res.statusCode).toBe(200);
      return res.json().items as Record<string, any>[];
    };
    // A used (rotated-away) token: its family is live, so the logout ends it, and says the token was stale.
    const rotated = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refresh_token: session.refreshToken },
    });
    expect(rotated.statusCode).toBe(200);
    const stale = await logout(session.refreshToken);
    expect(stale.statusCode).toBe(204);
    expect(await logouts()).toEqual([
      expect.objectContaining({
        status: 'success',
        request_id: stale.headers['x-request-id'],
        metadata: { revoked_tokens: 1, stale_token: true },
      }),
    ]);
    // The family is over: the same logout again, with either token, ends nothing and is not audited.
    for (const token of [session.refreshToken, rotated.json().refresh_token]) {
      expect((await logout(token)).statusCode).toBe(204);
    }
    // A live token's logout (control): one row without the mark; after logout-all, its token's logout none.
    const second = await login(ctx.app, session.username, session.password);
    const live = await logout(second.refresh_token);
    const third = await login(ctx.app, session.username, session.password);
    expect((await as(third.access_token, 'POST', '/api/v1/auth/logout-all')).statusCode).toBe(204);
    expect((await logout(third.refresh_token)).statusCode).toBe(204);
    const rows = await logouts();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      request_id: live.headers['x-request-id'],
      metadata: { revoked_tokens: 1 },
    });
    expect(rows[0].metadata.stale_token).toBeUndefined();
  });

  it('pages through audit rows written within one millisecond, each once, newest first', async () => {
    const action = `test.page_${Date.now()}`;
    // Six rows in one millisecond (a cursor carries milliseconds, the database microseconds), one row later.
    await ctx.dataSource.query(
      `INSERT INTO audit_log (action, status, created_at)
       SELECT $1, 'success', timestamptz '2026-06-01 12:00:00.123000+00' + (i * 97) * interval '1 microsecond'
         FROM generate_series(1, 6) AS i
       UNION ALL SELECT $1, 'success', timestamptz '2026-06-01 12:00:01+00'`,
      [action],
    );
    const seen = (
      await collectPages<{ log_id: string; created_at: string }>((cursor) =>
        as(
          admin.accessToken,
          'GET',
          `/api/v1/admin/audit-log?action=${action}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        ),
      )
    ).map((e) => ({ id: e.log_id, at: e.created_at }));
    expect(seen).toHaveLength(7);
    expect(new Set(seen.map((e) => e.id)).size).toBe(7);
    expect(seen[0].at).toBe('2026-06-01T12:00:01.000Z');
  });

  it('filters by what was done to a resource (user_id is who did it); a window ending before it starts is 422', async () => {
    const bob = await newSession(ctx.app, 'audit_target');
    const bobUrl = `/api/v1/admin/users/${bob.userId}`;
    expect((await as(admin.accessToken, 'PATCH', bobUrl, { disabled: true })).statusCode).toBe(200);
    expect((await as(admin.accessToken, 'PATCH', bobUrl, { disabled: false })).statusCode).toBe(200);
    const read = async (query: string) =>
      (await as(admin.accessToken, 'GET', `/api/v1/admin/audit-log?${query}`)).json<{
        items: { action: string; user_id: string | null; resource_id: string | null }[];
      }>().items;
    const aboutBob = await read(`resource_type=user&resource_id=${bob.userId}`);
    expect(aboutBob.map((row) => row.action)).toEqual(
      expect.arrayContaining(['admin.user_disabled', 'admin.user_enabled']),
    );
    expect(aboutBob.every((row) => row.resource_id === bob.userId)).toBe(true);
    // The actor filter does not find them: bob did none of it (the negative control).
    const byBob = await read(`user_id=${bob.userId}&action=admin.user_disabled`);
    expect(byBob).toEqual([]);
    const backwards = await as(
      admin.accessToken,
      'GET',
      '/api/v1/admin/audit-log?from=2027-01-01T00:00:00Z&to=2026-01-01T00:00:00Z',
    );
    expect(backwards.statusCode).toBe(422);
    expect(backwards.json().details).toEqual([{ field: 'to', message: 'must not be before from' }]);
  });

  it('fails a login whose audit row cannot be written, issuing no tokens', async () => {
    const session = await newSession(ctx.app, 'noaudit');
    const [before] = await ctx.dataSource.query(`SELECT last_login FROM users WHERE user_id = $1`, [
      session.userId,
    ]);
    await ctx.dataSource.query(
      `ALTER TABLE audit_log ADD CONSTRAINT test_block_login CHECK (NOT (action = 'auth.login' AND status = 'success')) NOT VALID`,
    );
    try {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: session.username, password: session.password },
      });
      expect(res.statusCode).toBe(500);
      expect(res.body).not.toContain('access_token');
      const [after] = await ctx.dataSource.query(`SELECT last_login FROM users WHERE user_id = $1`, [
        session.userId,
      ]);
      expect(after.last_login).toEqual(before.last_login); // the whole login rolled back
      const [{ n }] = await ctx.dataSource.query(
        `SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = $1`,
        [session.userId],
      );
      expect(n).toBe(1); // only the family from newSession
    } finally {
      await ctx.dataSource.query(`ALTER TABLE audit_log DROP CONSTRAINT test_block_login`);
    }
  });
});
