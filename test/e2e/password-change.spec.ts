import { SYSTEM_ACCOUNT_PASSWORD_HASH } from '../../src/users/users.repository';
import { useTestApp } from '../support/app';
import { apiKeyHeader, bearer, login, newSession, register, Session, uniqueName } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { expect422 } from '../support/validation';

const NEW_PASSWORD = 'a longer passphrase, 2026';

describeEachDatabase('changing one’s own password on %s', (database) => {
  const ctx = useTestApp({ database });

  const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
    ctx.app.inject({ method: 'POST', url: `/api/v1${url}`, payload, headers });
  const change = (headers: Record<string, string>, current: string, next = NEW_PASSWORD) =>
    post('/auth/password', { current_password: current, new_password: next }, headers);
  const me = (headers: Record<string, string>) =>
    ctx.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers });
  const loginStatus = async (session: Session, password: string) =>
    (await post('/auth/login', { username: session.username, password })).statusCode;
  const passwordHash = async (userId: string) =>
    (await ctx.dataSource.query(`SELECT password_hash FROM users WHERE user_id = $1`, [userId]))[0]
      .password_hash as string;
  interface AuditRow {
    status: string;
    error_message: string | null;
    request_id: string;
    metadata: Record<string, unknown>;
  }
  const auditRows = (userId: string) =>
    ctx.dataSource.query<AuditRow[]>(
      `SELECT status, error_message, request_id, metadata FROM audit_log
        WHERE action = 'auth.password_changed' AND user_id = $1 ORDER BY created_at`,
      [userId],
    );

  it('changes it: every earlier session ends, the answer is a new one, API keys keep working', async () => {
    const session = await newSession(ctx.app, 'changer');
    const elsewhere = await post('/auth/login', { username: session.username, password: session.password });
    const other = elsewhere.json<{ access_token: string; refresh_token: string }>();

    const res = await change(bearer(session.accessToken), session.password);
    expect(res.statusCode).toBe(200);
    const pair = res.json<{ access_token: string; refresh_token: string }>();
    expect(pair).toEqual({
      access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      refresh_token: expect.stringMatching(/^rt_[A-Za-z0-9_-]{43}$/),
      token_type: 'Bearer',
      expires_in: 900,
    });

    expect(await loginStatus(session, session.password)).toBe(401);
    expect(await loginStatus(session, NEW_PASSWORD)).toBe(200);
    // Every session from before: their refresh tokens and their access tokens, the caller's own included.
    for (const refresh of [session.refreshToken, other.refresh_token])
      expect((await post('/auth/refresh', { refresh_token: refresh })).statusCode).toBe(401);
    for (const access of [session.accessToken, other.access_token])
      expect((await me(bearer(access))).statusCode).toBe(401);
    // The pair it answered is a working session.
    expect((await me(bearer(pair.access_token))).statusCode).toBe(200);
    expect((await post('/auth/refresh', { refresh_token: pair.refresh_token })).statusCode).toBe(200);
    // API keys are revoked on their own (DELETE /api-keys/:id), not by a password change.
    expect((await me(apiKeyHeader(session.apiKey))).statusCode).toBe(200);

    const [row] = await auditRows(session.userId);
    expect(row).toMatchObject({ status: 'success', request_id: res.headers['x-request-id'] });
    expect(row.metadata).toMatchObject({ revoked_tokens: expect.any(Number) });
  });

  it('refuses an API key, even one that may manage keys: only a login session may change the password', async () => {
    const session = await newSession(ctx.app, 'keyed');
    const created = await post(
      '/api-keys',
      { name: 'manager', scopes: ['keys:manage', 'tasks:read'] },
      bearer(session.accessToken),
    );
    const managerKey = created.json<{ api_key: string }>().api_key;
    const before = await passwordHash(session.userId);
    for (const key of [session.apiKey, managerKey]) {
      const res = await change(apiKeyHeader(key), session.password);
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ error: 'forbidden', message: expect.stringContaining('API key') });
    }
    expect(await passwordHash(session.userId)).toBe(before);
    expect(await loginStatus(session, session.password)).toBe(200);
  });

  it('refuses a wrong current password with 403 wrong_password, audited, and changes nothing', async () => {
    const session = await newSession(ctx.app, 'guessed');
    const before = await passwordHash(session.userId);
    for (const wrong of ['not the password', 'correct horse battery!']) {
      const res = await change(bearer(session.accessToken), wrong);
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({
        error: 'forbidden',
        reason: 'wrong_password',
        message: 'The current password is not correct',
      });
    }
    expect(await passwordHash(session.userId)).toBe(before);
    // The session is not ended by a refusal.
    expect((await me(bearer(session.accessToken))).statusCode).toBe(200);
    expect((await post('/auth/refresh', { refresh_token: session.refreshToken })).statusCode).toBe(200);
    const rows = await auditRows(session.userId);
    expect(rows.map((r) => [r.status, r.error_message])).toEqual(
      Array.from({ length: 2 }, () => ['failure', 'wrong password']),
    );
  });

  it('refuses a current password over 72 bytes whose first 72 are the password (bcrypt reads only those)', async () => {
    const password = 'p'.repeat(72);
    const username = uniqueName('long');
    await register(ctx.app, username, password);
    const tokens = await login(ctx.app, username, password);
    const res = await change(bearer(tokens.access_token), `${password}, and more`);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ reason: 'wrong_password' });
    expect((await post('/auth/login', { username, password })).statusCode).toBe(200);
  });

  it('holds the new password to the registration rule, and refuses the current one as the new', async () => {
    const session = await newSession(ctx.app, 'weak');
    const before = await passwordHash(session.userId);
    const h = bearer(session.accessToken);
    expect422(await change(h, session.password, 'short'), 'new_password');
    expect422(await change(h, session.password, 'é'.repeat(37)), 'new_password'); // 74 bytes
    expect422(await change(h, session.password, 'has a \0 in it'), 'new_password');
    expect422(await change(h, session.password, session.password), 'new_password');
    expect422(await post('/auth/password', { new_password: NEW_PASSWORD }, h), 'current_password');
    expect(await passwordHash(session.userId)).toBe(before);
    expect((await me(h)).statusCode).toBe(200);
  });

  it('refuses a built-in system account, which has no password', async () => {
    const session = await newSession(ctx.app, 'builtin');
    await ctx.dataSource.query(`UPDATE users SET password_hash = $2 WHERE user_id = $1`, [
      session.userId,
      SYSTEM_ACCOUNT_PASSWORD_HASH,
    ]);
    const res = await change(bearer(session.accessToken), session.password);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({
      error: 'forbidden',
      message: expect.stringContaining('system account'),
    });
    expect(await passwordHash(session.userId)).toBe(SYSTEM_ACCOUNT_PASSWORD_HASH);
    expect((await auditRows(session.userId)).map((r) => r.error_message)).toEqual(['system account']);
  });
});

describe('wrong current passwords count as failed authentications of the client', () => {
  const ctx = useTestApp({ env: { RATE_LIMIT_AUTH_RPM: '3', RATE_LIMIT_AUTH_BURST: '3' } });

  it('past the auth tier’s limit of failures, the client’s bad credentials are 429', async () => {
    // Three accounts, one guess each: no route bucket (per user) is full, the client's failures are.
    const sessions = [
      await newSession(ctx.app, 'g1'),
      await newSession(ctx.app, 'g2'),
      await newSession(ctx.app, 'g3'),
    ];
    for (const session of sessions) {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/password',
        headers: bearer(session.accessToken),
        payload: { current_password: 'not the password', new_password: NEW_PASSWORD },
      });
      expect(res.statusCode).toBe(403);
    }
    const anonymous = await ctx.app.inject({ method: 'GET', url: '/api/v1/auth/me' });
    expect(anonymous.statusCode).toBe(429);
  });
});
