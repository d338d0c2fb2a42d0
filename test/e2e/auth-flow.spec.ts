import { FakeClock } from '../../src/common/clock/fake-clock';
import { USER_STATUS_TTL_MS } from '../../src/users/user-status.cache';
import { useTestApp } from '../support/app';
import { describeEachDatabase } from '../support/databases';
import { dumpEveryTable } from '../support/schema';
import { apiKeyHeader, bearer, login, newSession, register, uniqueName } from '../support/auth';
import { expect422 } from '../support/validation';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PASSWORD = 'correct horse battery';

describeEachDatabase('identity on %s', (database) => {
  const clock = new FakeClock();
  const ctx = useTestApp({ database, clock });

  const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
    ctx.app.inject({ method: 'POST', url: `/api/v1${url}`, payload, headers });

  it('register → login → me → refresh → logout, with the exact shapes', async () => {
    const username = uniqueName('Flow');
    const registered = await post('/auth/register', {
      username,
      password: PASSWORD,
      email: `${username}@example.com`,
    });
    expect(registered.statusCode).toBe(201);
    expect(registered.json()).toEqual({
      user_id: expect.stringMatching(UUID),
      username,
      api_key: expect.stringMatching(/^vcp_[0-9A-Za-z]{46}$/),
    });

    const loggedIn = await post('/auth/login', { username: username.toLowerCase(), password: PASSWORD });
    expect(loggedIn.statusCode).toBe(200);
    const tokens = loggedIn.json();
    expect(tokens).toEqual({
      access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      refresh_token: expect.stringMatching(/^rt_[A-Za-z0-9_-]{43}$/),
      token_type: 'Bearer',
      expires_in: 900,
    });

    const me = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: bearer(tokens.access_token),
    });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({
      user_id: registered.json().user_id,
      username,
      role: 'user',
      scopes: ['tasks:read', 'tasks:write', 'nodes:read', 'nodes:write', 'proofs:write', 'keys:manage'],
      created_at: expect.any(String),
      last_login: expect.any(String),
    });
    expect(Date.now() - Date.parse(me.json().last_login)).toBeLessThan(60_000);

    const refreshed = await post('/auth/refresh', { refresh_token: tokens.refresh_token });
    expect(refreshed.statusCode).toBe(200);
    const next = refreshed.json();
    expect(Object.keys(next).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect(
      (await ctx.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(next.access_token) }))
        .statusCode,
    ).toBe(200);

    const out = await post('/auth/logout', { refresh_token: next.refresh_token });
    expect(out.statusCode).toBe(204);
    expect(out.body).toBe('');
    const after = await post('/auth/refresh', { refresh_token: next.refresh_token });
    expect(after.statusCode).toBe(401);
    expect(after.json().error).toBe('unauthorized');
  });

  it('refuses a taken username regardless of case with 409', async () => {
    const username = uniqueName('Taken');
    await register(ctx.app, username);
    const res = await post('/auth/register', { username: username.toUpperCase(), password: PASSWORD });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toBe('conflict');
  });

  it.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(33)],
    ['a space', 'bad name'],
    ['a dash', 'bad-name'],
    ['non-ASCII', 'zoë_user'],
  ])('rejects a username with %s (422)', async (_case, username) => {
    expect422(await post('/auth/register', { username, password: PASSWORD }), 'username');
  });

  describe('passwords are 8–72 bytes of UTF-8, never truncated', () => {
    it.each([
      ['72 ASCII bytes', 201, 'a'.repeat(72)],
      ['73 ASCII bytes', 422, 'a'.repeat(73)],
      ['36 two-byte characters (72 bytes)', 201, 'é'.repeat(36)],
      ['37 two-byte characters (74 bytes)', 422, 'é'.repeat(37)],
      ['24 three-byte characters (72 bytes)', 201, '東'.repeat(24)],
      ['18 four-byte emoji (72 bytes)', 201, '🔐'.repeat(18)],
      ['71 ASCII bytes and one two-byte character (73 bytes)', 422, 'a'.repeat(71) + 'é'],
      ['7 bytes', 422, 'a'.repeat(7)],
      ['a NUL character', 422, 'password\u0000suffix'],
    ])('%s → %i', async (_case, status, password) => {
      const res = await post('/auth/register', { username: uniqueName('pw'), password });
      expect(res.statusCode).toBe(status);
      if (status === 422) expect(expect422(res, 'password')).toHaveLength(1);
    });

    it('the 72-byte password logs in, and a 71-byte prefix of it does not', async () => {
      const username = uniqueName('pw72');
      const password = '🔐'.repeat(17) + 'abcd';
      await register(ctx.app, username, password);
      expect((await post('/auth/login', { username, password })).statusCode).toBe(200);
      expect((await post('/auth/login', { username, password: password.slice(0, -1) })).statusCode).toBe(401);
    });
  });

  it('rejects role, user_id and is_admin sent to register (never applied)', async () => {
    for (const extra of [
      { role: 'admin' },
      { user_id: '00000000-0000-0000-0000-000000000000' },
      { is_admin: true },
    ]) {
      const username = uniqueName('sneaky');
      expect422(
        await post('/auth/register', { username, password: PASSWORD, ...extra }),
        Object.keys(extra)[0],
      );
      const [row] = await ctx.dataSource.query(`SELECT count(*)::int AS n FROM users WHERE username = $1`, [
        username,
      ]);
      expect(row.n).toBe(0);
    }
  });

  it('answers a wrong password and an unknown user with the same 401', async () => {
    const { username } = await newSession(ctx.app);
    const wrong = await post('/auth/login', { username, password: 'not the password' });
    const unknown = await post('/auth/login', { username: uniqueName('ghost'), password: PASSWORD });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    const strip = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });
    expect(strip(wrong.json())).toEqual(strip(unknown.json()));
  });

  it('replaying a rotated refresh token revokes the whole family and is audited', async () => {
    const session = await newSession(ctx.app);
    const first = (await post('/auth/refresh', { refresh_token: session.refreshToken })).json();
    const second = (await post('/auth/refresh', { refresh_token: first.refresh_token })).json();

    const replay = await post('/auth/refresh', { refresh_token: session.refreshToken });
    expect(replay.statusCode).toBe(401);
    // Every descendant is dead, including the newest token the thief or the user holds.
    expect((await post('/auth/refresh', { refresh_token: second.refresh_token })).statusCode).toBe(401);
    const [{ live }] = await ctx.dataSource.query(
      `SELECT count(*) FILTER (WHERE revoked_at IS NULL)::int AS live FROM refresh_tokens WHERE user_id = $1`,
      [session.userId],
    );
    expect(live).toBe(0);
    const audit = await ctx.dataSource.query(
      `SELECT request_id FROM audit_log WHERE action = 'auth.refresh_reuse_detected' AND user_id = $1`,
      [session.userId],
    );
    expect(audit).toEqual([{ request_id: replay.json().request_id }]);
  });

  it('a refresh family keeps its absolute expiry through rotations', async () => {
    const session = await newSession(ctx.app);
    const [before] = await ctx.dataSource.query(
      `SELECT family_expires_at FROM refresh_tokens WHERE user_id = $1`,
      [session.userId],
    );
    let token = session.refreshToken;
    for (let i = 0; i < 3; i++)
      token = (await post('/auth/refresh', { refresh_token: token })).json().refresh_token;
    const rows = await ctx.dataSource.query(
      `SELECT DISTINCT family_expires_at, expires_at FROM refresh_tokens WHERE user_id = $1`,
      [session.userId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].expires_at).toEqual(before.family_expires_at);
    const days = (before.family_expires_at.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);

    await ctx.dataSource.query(
      `UPDATE refresh_tokens SET family_expires_at = now() - interval '1 second',
                      expires_at = now() - interval '1 second' WHERE user_id = $1`,
      [session.userId],
    );
    expect((await post('/auth/refresh', { refresh_token: token })).statusCode).toBe(401);
  });

  it('logout-all revokes every family of the caller', async () => {
    const session = await newSession(ctx.app);
    const other = await login(ctx.app, session.username, session.password);
    // An API key, even the account's default one with every user scope, cannot: a leaked key must not be able
    // to end its owner's sessions.
    const byKey = await post('/auth/logout-all', {}, apiKeyHeader(session.apiKey));
    expect(byKey.statusCode).toBe(403);
    expect(byKey.json()).toMatchObject({ error: 'forbidden' });
    const stillIn = await post('/auth/refresh', { refresh_token: other.refresh_token });
    expect(stillIn.statusCode).toBe(200);

    const res = await post('/auth/logout-all', {}, bearer(session.accessToken));
    expect(res.statusCode).toBe(204);
    for (const token of [session.refreshToken, stillIn.json<{ refresh_token: string }>().refresh_token]) {
      expect((await post('/auth/refresh', { refresh_token: token })).statusCode).toBe(401);
    }
  });

  it('says so when the access token is sent where the refresh token goes', async () => {
    const session = await newSession(ctx.app, uniqueName('mixup'));
    for (const path of ['/auth/refresh', '/auth/logout']) {
      const details = expect422(await post(path, { refresh_token: session.accessToken }), 'refresh_token');
      expect(details.map((detail) => detail.message)).toContain(
        'this is an access token (a JWT, for Authorization: Bearer); send the refresh token from login or the ' +
          'previous refresh, which starts with rt_',
      );
    }
    // The refresh token itself passes (negative control).
    expect((await post('/auth/refresh', { refresh_token: session.refreshToken })).statusCode).toBe(200);
  });

  it('logout is idempotent and reveals nothing about unknown tokens', async () => {
    expect((await post('/auth/logout', { refresh_token: 'rt_unknown' })).statusCode).toBe(204);
    expect((await post('/auth/logout', { refresh_token: 'not-even-a-token' })).statusCode).toBe(204);
  });

  it('locks out a disabled user’s access token within 5 s', async () => {
    const session = await newSession(ctx.app);
    const me = () =>
      ctx.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(session.accessToken) });
    expect((await me()).statusCode).toBe(200);
    await ctx.dataSource.query(`UPDATE users SET disabled_at = now() WHERE user_id = $1`, [session.userId]);
    clock.advance(USER_STATUS_TTL_MS);
    expect((await me()).statusCode).toBe(401);
    expect(
      (await post('/auth/login', { username: session.username, password: session.password })).statusCode,
    ).toBe(401);
    expect((await post('/auth/refresh', { refresh_token: session.refreshToken })).statusCode).toBe(401);
    expect(USER_STATUS_TTL_MS).toBeLessThanOrEqual(5000);
  });

  it('locks out a deleted user’s access token within 5 s', async () => {
    const session = await newSession(ctx.app);
    const me = () =>
      ctx.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(session.accessToken) });
    expect((await me()).statusCode).toBe(200); // the account's status is now cached
    await ctx.dataSource.query(`DELETE FROM users WHERE user_id = $1`, [session.userId]);
    clock.advance(USER_STATUS_TTL_MS);
    expect((await me()).statusCode).toBe(401);
  });

  it('stores no token or password in any column (dump of every table after a full flow)', async () => {
    const session = await newSession(ctx.app);
    const rotated = (await post('/auth/refresh', { refresh_token: session.refreshToken })).json();
    await post('/auth/logout', { refresh_token: rotated.refresh_token });
    const secrets = [
      session.password,
      session.refreshToken,
      rotated.refresh_token,
      session.apiKey,
      session.accessToken,
      rotated.access_token,
    ];
    const dump = await dumpEveryTable(ctx.dataSource);
    for (const secret of secrets) expect(dump).not.toContain(secret);
    // Not even the random part of a refresh token without its prefix.
    for (const token of [session.refreshToken, rotated.refresh_token])
      expect(dump).not.toContain(token.slice(3));
    const [stored] = await ctx.dataSource.query(
      `SELECT token_hash FROM refresh_tokens WHERE user_id = $1 LIMIT 1`,
      [session.userId],
    );
    expect(stored.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('requires authentication by default (deny by default)', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/auth/me'],
      ['POST', '/api/v1/auth/logout-all'],
    ] as const) {
      const res = await ctx.app.inject({ method, url });
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('unauthorized');
    }
  });
});
