import { useAdminApp } from '../support/admin';
import { bearer, login, newSession, uniqueName } from '../support/auth';

const PASSWORD = 'correct horse battery';

/** POST /api/v1/admin/users as `token` (the test app's admin unless told). */
const createUser = (
  ctx: ReturnType<typeof useAdminApp>,
  payload: Record<string, unknown>,
  token = ctx.admin.accessToken,
) => ctx.app.inject({ method: 'POST', url: '/api/v1/admin/users', headers: bearer(token), payload });

/** Audit rows of one action for one username (metadata) or one resource, newest first. */
async function auditRows(
  ctx: ReturnType<typeof useAdminApp>,
  action: string,
): Promise<
  {
    status: string;
    user_id: string | null;
    resource_id: string | null;
    error_message: string | null;
    metadata: Record<string, unknown> | null;
  }[]
> {
  return ctx.dataSource.query(
    `SELECT status, user_id, resource_id, error_message, metadata FROM audit_log
      WHERE action = $1 ORDER BY created_at DESC`,
    [action],
  );
}

describe('REGISTRATION=closed', () => {
  const ctx = useAdminApp({ env: { REGISTRATION: 'closed' } });

  it('refuses a registration with 403 registration_closed, audited, and creates nothing', async () => {
    const username = uniqueName('walkin');
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { username, password: PASSWORD },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({
      error: 'forbidden',
      reason: 'registration_closed',
      request_id: expect.any(String),
    });
    expect(res.json<{ message: string }>().message).toContain('POST /api/v1/admin/users');
    const [row] = (await auditRows(ctx, 'auth.register')).filter((r) => r.metadata?.username === username);
    expect(row).toMatchObject({ status: 'failure', error_message: 'registration_closed' });
    const users = await ctx.dataSource.query(`SELECT 1 FROM users WHERE username = $1`, [username]);
    expect(users).toHaveLength(0);
  });

  it('an admin creates an account (role user by default, or admin), and it logs in with its password', async () => {
    const username = uniqueName('invited');
    const res = await createUser(ctx, { username, password: PASSWORD, email: `${username}@example.com` });
    expect(res.statusCode).toBe(201);
    const created = res.json<{ user_id: string; role: string }>();
    expect(created).toMatchObject({
      username,
      email: `${username}@example.com`,
      role: 'user',
      disabled: false,
      last_login: null,
    });
    const [row] = (await auditRows(ctx, 'admin.user_created')).filter(
      (r) => r.resource_id === created.user_id,
    );
    expect(row).toMatchObject({ status: 'success', user_id: ctx.admin.userId, metadata: { role: 'user' } });

    const tokens = await login(ctx.app, username, PASSWORD);
    const me = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: bearer(tokens.access_token),
    });
    expect(me.json()).toMatchObject({ user_id: created.user_id, role: 'user' });

    const second = uniqueName('deputy');
    const admin = await createUser(ctx, { username: second, password: PASSWORD, role: 'admin' });
    expect(admin.statusCode).toBe(201);
    expect(admin.json()).toMatchObject({ username: second, role: 'admin', email: null });
  });

  it('a taken name is 409 (any case), bad fields are 422 as at registration, and a user is 403', async () => {
    const username = uniqueName('taken');
    const create = (payload: Record<string, unknown>, token?: string) => createUser(ctx, payload, token);
    expect((await create({ username, password: PASSWORD })).statusCode).toBe(201);
    const taken = await create({ username: username.toUpperCase(), password: PASSWORD });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toMatchObject({ error: 'conflict' });
    const [refused] = (await auditRows(ctx, 'admin.user_created')).filter(
      (r) => r.metadata?.username === username.toUpperCase(),
    );
    expect(refused).toMatchObject({ status: 'failure', error_message: 'username or email taken' });

    const invalid: [Record<string, unknown>, string][] = [
      [{ username: 'x', password: PASSWORD }, 'username'],
      [{ username: 'system_robot', password: PASSWORD }, 'username'],
      [{ username: uniqueName(), password: 'short' }, 'password'],
      [{ username: uniqueName(), password: PASSWORD, role: 'root' }, 'role'],
      [{ username: uniqueName(), password: PASSWORD, email: 'not an address' }, 'email'],
      [{ username: uniqueName(), password: PASSWORD, extra: 1 }, 'extra'],
    ];
    for (const [payload, field] of invalid) {
      const res = await create(payload);
      expect({ payload, status: res.statusCode, error: res.json<{ error: string }>().error }).toEqual({
        payload,
        status: 422,
        error: 'validation_error',
      });
      const details = res.json<{ details: { field: string }[] }>().details;
      expect(details.map((detail) => detail.field)).toContain(field);
    }

    // Negative control: a user cannot make accounts, whatever the registration mode.
    const user = await createUser(ctx, { username: uniqueName('plain'), password: PASSWORD });
    const { access_token } = await login(ctx.app, user.json<{ username: string }>().username, PASSWORD);
    expect((await create({ username: uniqueName(), password: PASSWORD }, access_token)).statusCode).toBe(403);
  });

  it('an admin sets a forgotten password: the old one and every session of the account end, audited', async () => {
    const username = uniqueName('forgetful');
    const made = await createUser(ctx, { username, password: PASSWORD });
    const { user_id } = made.json<{ user_id: string }>();
    const before = await login(ctx.app, username, PASSWORD);
    const reset = (payload: Record<string, unknown>) =>
      ctx.app.inject({
        method: 'PATCH',
        url: `/api/v1/admin/users/${user_id}`,
        headers: bearer(ctx.admin.accessToken),
        payload,
      });
    // The password rule of registration holds here too.
    const weak = await reset({ password: 'short' });
    expect(weak.statusCode).toBe(422);
    expect(weak.json<{ details: { field: string }[] }>().details.map((d) => d.field)).toEqual(['password']);

    const res = await reset({ password: 'a brand new password' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ user_id, username, disabled: false });
    const [row] = (await auditRows(ctx, 'admin.password_reset')).filter((r) => r.resource_id === user_id);
    expect(row).toMatchObject({
      status: 'success',
      user_id: ctx.admin.userId,
      metadata: { revoked_refresh_tokens: 1 },
    });

    // The old password, the old access token and the old refresh token are refused; the new password works.
    const oldLogin = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username, password: PASSWORD },
    });
    expect(oldLogin.statusCode).toBe(401);
    const me = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: bearer(before.access_token),
    });
    expect(me.statusCode).toBe(401);
    const refresh = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refresh_token: before.refresh_token },
    });
    expect(refresh.statusCode).toBe(401);
    const after = await login(ctx.app, username, 'a brand new password');
    const meAfter = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: bearer(after.access_token),
    });
    expect(meAfter.json()).toMatchObject({ user_id });
  });
});

describe('REGISTRATION=open (the default)', () => {
  const ctx = useAdminApp();

  it('anyone registers, and an admin may still create accounts', async () => {
    const session = await newSession(ctx.app, 'walkin');
    expect(session.userId).toEqual(expect.any(String));
    const res = await createUser(ctx, { username: uniqueName('invited'), password: PASSWORD });
    expect(res.statusCode).toBe(201);
  });
});
