import { AdminBootstrapService, AdminPasswordMismatch } from '../../src/admin/admin-bootstrap.service';
import { UserStatusCache } from '../../src/users/user-status.cache';
import { SYSTEM_ACCOUNT_PASSWORD_HASH } from '../../src/users/users.repository';
import { AdminSession, TEST_ADMIN, useAdminApp } from '../support/admin';
import { login, newSession, Session, requestAs, uniqueName } from '../support/auth';
import { eventually } from '../support/eventually';
import { expect422 } from '../support/validation';

describe('admin routes and roles', () => {
  const ctx = useAdminApp();
  let admin: AdminSession;
  let user: Session;

  beforeAll(async () => {
    admin = ctx.admin;
    user = await newSession(ctx.app);
  });

  const as: ReturnType<typeof requestAs> = (...args) => requestAs(ctx.app)(...args);

  it('ADMIN_USERNAME/ADMIN_PASSWORD create an admin with every scope, idempotently', async () => {
    const me = await as(admin.accessToken, 'GET', '/api/v1/auth/me');
    expect(me.json()).toMatchObject({ username: TEST_ADMIN.username, role: 'admin' });
    expect(me.json().scopes).toEqual(
      expect.arrayContaining(['admin:users', 'admin:audit', 'admin:throttle']),
    );
    // Booting again with the same settings changes nothing (the bootstrap hook runs on every boot).
    await ctx.app.get(AdminBootstrapService).onApplicationBootstrap();
    const bootstrap = ctx.app.get(AdminBootstrapService);
    expect(await bootstrap.ensureAdmin(TEST_ADMIN.username, TEST_ADMIN.password, 'env')).toBe('unchanged');
    const [{ n }] = await ctx.dataSource.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'admin.bootstrap'`,
    );
    expect(n).toBe(1);
  });

  it('gives a non-admin 403 and an anonymous caller 401 on every admin route and method', async () => {
    const doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    const adminOps = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .filter(([path]) => path.startsWith('/api/v1/admin/'))
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => [method.toUpperCase(), path] as const));
    expect(adminOps.length).toBeGreaterThanOrEqual(3);
    for (const [method, path] of adminOps) {
      const url = path.replace(/\{[^}]+\}/g, user.userId);
      const forbidden = await as(user.accessToken, method as 'GET', url, method === 'GET' ? undefined : {});
      expect({ method, path, status: forbidden.statusCode, error: forbidden.json().error }).toEqual({
        method,
        path,
        status: 403,
        error: 'forbidden',
      });
      const anonymous = await ctx.app.inject({ method: method as 'GET', url });
      expect(anonymous.statusCode).toBe(401);
    }
    // Each denied call of a signed-in non-admin is audited (at most 10 rows a minute per user; the rest counted).
    const rows = await eventually(async () => {
      const found = await ctx.dataSource.query(
        `SELECT status, metadata FROM audit_log WHERE action = 'auth.admin_access_denied' AND user_id = $1`,
        [user.userId],
      );
      expect(found).toHaveLength(Math.min(10, adminOps.length));
      return found as { status: string; metadata: { route: string } }[];
    });
    for (const row of rows) {
      expect(row.status).toBe('denied');
      expect(row.metadata.route).toMatch(/^(GET|POST|PATCH|PUT|DELETE) \/api\/v1\/admin\//);
    }
  });

  it('lists users with cursor pagination (limit ≤ 100)', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await newSession(ctx.app, 'page')).userId);
    // Accounts created within one millisecond: a cursor carries milliseconds, the database microseconds.
    await ctx.dataSource.query(
      `UPDATE users SET created_at = timestamptz '2026-06-01 12:00:00.123000+00' + (random() * 999)::int * interval '1 microsecond'
        WHERE user_id = ANY($1::uuid[])`,
      [made],
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await as(
        admin.accessToken,
        'GET',
        `/api/v1/admin/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.statusCode).toBe(200);
      const body = page.json();
      expect(body.items.length).toBeLessThanOrEqual(2);
      for (const item of body.items) {
        expect(Object.keys(item).sort()).toEqual(
          ['created_at', 'disabled', 'email', 'last_login', 'role', 'user_id', 'username'].sort(),
        );
        seen.push(item.user_id);
      }
      cursor = body.next_cursor;
    } while (cursor);
    const [{ n }] = await ctx.dataSource.query(`SELECT count(*)::int AS n FROM users`);
    expect(seen).toHaveLength(n);
    expect(new Set(seen).size).toBe(n);
    expect422(await as(admin.accessToken, 'GET', '/api/v1/admin/users?limit=101'), 'limit');
    expect422(await as(admin.accessToken, 'GET', '/api/v1/admin/users?cursor=bm90LWpzb24'), 'cursor');
  });

  it('promotes and demotes; a demoted admin loses admin routes at once', async () => {
    const other = await newSession(ctx.app, 'promo');
    const promoted = await as(admin.accessToken, 'PATCH', `/api/v1/admin/users/${other.userId}`, {
      role: 'admin',
    });
    expect(promoted.statusCode).toBe(200);
    expect(promoted.json()).toMatchObject({ user_id: other.userId, role: 'admin', disabled: false });
    expect((await as(other.accessToken, 'GET', '/api/v1/admin/users')).statusCode).toBe(200);
    await as(admin.accessToken, 'PATCH', `/api/v1/admin/users/${other.userId}`, { role: 'user' });
    expect((await as(other.accessToken, 'GET', '/api/v1/admin/users')).statusCode).toBe(403);
  });

  it('disabling a user revokes every refresh family and locks out their tokens', async () => {
    const victim = await newSession(ctx.app, 'victim');
    const res = await as(admin.accessToken, 'PATCH', `/api/v1/admin/users/${victim.userId}`, {
      disabled: true,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().disabled).toBe(true);
    const refresh = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refresh_token: victim.refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
    expect((await as(victim.accessToken, 'GET', '/api/v1/auth/me')).statusCode).toBe(401);
    const [{ live }] = await ctx.dataSource.query(
      `SELECT count(*) FILTER (WHERE revoked_at IS NULL)::int AS live FROM refresh_tokens WHERE user_id = $1`,
      [victim.userId],
    );
    expect(live).toBe(0);
    const enabled = await as(admin.accessToken, 'PATCH', `/api/v1/admin/users/${victim.userId}`, {
      disabled: false,
    });
    expect(enabled.json().disabled).toBe(false);
    // Enabled again, the account starts from a new login: tokens from before the disable stay ended.
    ctx.app.get(UserStatusCache).invalidate(victim.userId);
    expect((await as(victim.accessToken, 'GET', '/api/v1/auth/me')).statusCode).toBe(401);
    const again = await login(ctx.app, victim.username, victim.password);
    expect((await as(again.access_token, 'GET', '/api/v1/auth/me')).statusCode).toBe(200);
  });

  it('audits each change of one PATCH in its own row; a PATCH that names no change is 422', async () => {
    const target = await newSession(ctx.app, 'two_changes');
    const url = `/api/v1/admin/users/${target.userId}`;
    const rows = async () =>
      (
        await ctx.dataSource.query(
          `SELECT action, metadata FROM audit_log WHERE resource_id = $1 AND action LIKE 'admin.%' ORDER BY created_at, action`,
          [target.userId],
        )
      ).map((row: { action: string; metadata: unknown }) => [row.action, row.metadata]);
    expect((await as(admin.accessToken, 'PATCH', url, { role: 'admin', disabled: true })).statusCode).toBe(
      200,
    );
    expect(await rows()).toEqual([
      ['admin.role_changed', { role: { from: 'user', to: 'admin' } }],
      ['admin.user_disabled', expect.objectContaining({ disabled: true })],
    ]);
    expect((await as(admin.accessToken, 'PATCH', url, { role: 'user', disabled: false })).statusCode).toBe(
      200,
    );
    expect((await rows()).slice(2)).toEqual([
      ['admin.role_changed', { role: { from: 'admin', to: 'user' } }],
      ['admin.user_enabled', { disabled: false }],
    ]);
    for (const body of [{}, undefined]) {
      const empty = await as(admin.accessToken, 'PATCH', url, body);
      expect(empty.statusCode).toBe(422);
    }
    expect(await rows()).toHaveLength(4);
  });

  it('takes an optional field sent as null as left out (generated clients send one for each)', async () => {
    const target = await newSession(ctx.app, 'null_fields');
    const url = `/api/v1/admin/users/${target.userId}`;
    const disabled = await as(admin.accessToken, 'PATCH', url, {
      role: null,
      disabled: true,
      password: null,
    });
    expect(disabled.statusCode).toBe(200);
    expect(disabled.json()).toMatchObject({ role: 'user', disabled: true });
    const promoted = await as(admin.accessToken, 'PATCH', url, { role: 'admin', disabled: null });
    expect(promoted.statusCode).toBe(200);
    expect(promoted.json()).toMatchObject({ role: 'admin', disabled: true });
    // Nothing left to change once the nulls are gone: the 422 of an empty body.
    expect422(
      await as(admin.accessToken, 'PATCH', url, { role: null, disabled: null, password: null }),
      'role',
    );
    // Leaves no second admin behind; the old password still works: a null password changed nothing.
    await as(admin.accessToken, 'PATCH', url, { role: 'user', disabled: false });
    await expect(login(ctx.app, target.username, target.password)).resolves.toHaveProperty('access_token');
  });

  it('ADMIN_USERNAME promotes an existing account only with its own password; --reset-password sets it', async () => {
    const bootstrap = ctx.app.get(AdminBootstrapService);
    const squatter = await newSession(ctx.app, 'chief');
    // Whoever registered the name first does not become admin by the operator's choice of name.
    await expect(
      bootstrap.ensureAdmin(squatter.username, 'the operators own password', 'env'),
    ).rejects.toThrow(AdminPasswordMismatch);
    expect((await as(squatter.accessToken, 'GET', '/api/v1/auth/me')).json().role).toBe('user');
    // With the account's own password, the variables leave it to the admins while one is active (a boot must
    // not undo what an admin decided); the CLI, the operator's own command, promotes it.
    expect(await bootstrap.ensureAdmin(squatter.username, squatter.password, 'env')).toBe(
      'left to the admins',
    );
    expect((await as(squatter.accessToken, 'GET', '/api/v1/auth/me')).json().role).toBe('user');
    expect(await bootstrap.ensureAdmin(squatter.username, squatter.password, 'cli')).toBe('promoted');
    // An active admin named with another password stays as it is, password included.
    expect(await bootstrap.ensureAdmin(squatter.username, 'yet another password', 'env')).toBe(
      'password not its own',
    );
    expect((await login(ctx.app, squatter.username, squatter.password)).access_token).toBeDefined();
    // A reset sets the password and ends what the old one gave.
    expect(await bootstrap.ensureAdmin(squatter.username, 'the new password 1', 'cli', true)).toBe(
      'password reset',
    );
    ctx.app.get(UserStatusCache).invalidate(squatter.userId);
    expect((await as(squatter.accessToken, 'GET', '/api/v1/auth/me')).statusCode).toBe(401);
    const refreshed = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refresh_token: squatter.refreshToken },
    });
    expect(refreshed.statusCode).toBe(401);
    const fresh = await login(ctx.app, squatter.username, 'the new password 1');
    expect((await as(fresh.access_token, 'GET', '/api/v1/auth/me')).json().role).toBe('admin');
    // Demoted again so that the last-admin test below still sees one admin.
    await as(admin.accessToken, 'PATCH', `/api/v1/admin/users/${squatter.userId}`, { role: 'user' });
  });

  it("a boot with ADMIN_USERNAME does not undo an admin's demotion or disabling of that account", async () => {
    const bootstrap = ctx.app.get(AdminBootstrapService);
    const first = { username: uniqueName('first'), password: 'the first admins password' };
    expect(await bootstrap.ensureAdmin(first.username, first.password, 'env')).toBe('created');
    const [{ user_id: firstId }] = await ctx.dataSource.query<{ user_id: string }[]>(
      `SELECT user_id FROM users WHERE username = $1`,
      [first.username],
    );
    const url = `/api/v1/admin/users/${firstId}`;
    expect((await as(admin.accessToken, 'PATCH', url, { role: 'user', disabled: true })).statusCode).toBe(
      200,
    );
    // The next boot, with the same variables.
    expect(await bootstrap.ensureAdmin(first.username, first.password, 'env')).toBe('left to the admins');
    const [row] = await ctx.dataSource.query<{ role: string; disabled: boolean }[]>(
      `SELECT role, disabled_at IS NOT NULL AS disabled FROM users WHERE user_id = $1`,
      [firstId],
    );
    expect(row).toEqual({ role: 'user', disabled: true });
    const refused = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: first.username, password: first.password },
    });
    expect(refused.statusCode).toBe(401);
  });

  it('refuses to demote or disable the last active admin, including oneself', async () => {
    const [{ admins }] = await ctx.dataSource.query(
      `SELECT count(*)::int AS admins FROM users WHERE role = 'admin' AND disabled_at IS NULL`,
    );
    expect(admins).toBe(1); // the precondition: no other test left a second admin behind
    for (const change of [{ role: 'user' }, { disabled: true }]) {
      const res = await as(admin.accessToken, 'PATCH', `/api/v1/admin/users/${admin.userId}`, change);
      expect(res.statusCode).toBe(409);
      expect(res.json().error).toBe('conflict');
    }
    expect((await as(admin.accessToken, 'GET', '/api/v1/auth/me')).json().role).toBe('admin');
  });

  it('refuses to change a built-in system account, which never stands in for the last admin', async () => {
    // What the embedded node creates for its owner (disabled, no usable password).
    const [{ user_id: systemId }] = await ctx.dataSource.query(
      `INSERT INTO users (username, password_hash, role, disabled_at)
       VALUES ('system_embedded_1', $1, 'user', now()) RETURNING user_id`,
      [SYSTEM_ACCOUNT_PASSWORD_HASH],
    );
    const row = async () =>
      (
        await ctx.dataSource.query(`SELECT role, disabled_at, updated_at FROM users WHERE user_id = $1`, [
          systemId,
        ])
      )[0];
    try {
      const before = await row();
      for (const change of [{ disabled: false, role: 'admin' }, { disabled: false }, { role: 'admin' }]) {
        const res = await as(admin.accessToken, 'PATCH', `/api/v1/admin/users/${systemId}`, change);
        expect(res.statusCode).toBe(403);
        expect(res.json()).toMatchObject({
          error: 'forbidden',
          message:
            'system_embedded_1 is a built-in system account: its role, status and password cannot be changed',
        });
      }
      expect(await row()).toEqual(before);
      const [{ n }] = await ctx.dataSource.query(
        `SELECT count(*)::int AS n FROM audit_log WHERE resource_id = $1 AND status <> 'failure'`,
        [systemId],
      );
      expect(n).toBe(0); // the refusals are recorded as failures (audit-failures.spec.ts), nothing as done
      // Nor can the bootstrap (ADMIN_USERNAME, create-admin) take its name.
      await expect(
        ctx.app.get(AdminBootstrapService).ensureAdmin('system_embedded_1', 'a good password 123', 'cli'),
      ).rejects.toThrow('system_embedded_1 is a built-in system account: choose another name for the admin');
      expect(await row()).toEqual(before);
      // Were it an active admin anyway (only the database can make it one now), it is not another admin.
      await ctx.dataSource.query(`UPDATE users SET role = 'admin', disabled_at = NULL WHERE user_id = $1`, [
        systemId,
      ]);
      const demoted = await as(admin.accessToken, 'PATCH', `/api/v1/admin/users/${admin.userId}`, {
        role: 'user',
      });
      expect(demoted.statusCode).toBe(409);
      expect(demoted.json()).toMatchObject({ error: 'conflict', reason: 'last_admin' });
      expect((await as(admin.accessToken, 'GET', '/api/v1/auth/me')).json().role).toBe('admin');
    } finally {
      await ctx.dataSource.query(`DELETE FROM users WHERE user_id = $1`, [systemId]);
    }
  });

  it('rejects unknown fields, bad values and unknown users', async () => {
    const url = `/api/v1/admin/users/${user.userId}`;
    expect422(await as(admin.accessToken, 'PATCH', url, { role: 'root' }), 'role');
    expect422(await as(admin.accessToken, 'PATCH', url, { is_admin: true }), 'is_admin');
    expect422(await as(admin.accessToken, 'PATCH', url, { user_id: admin.userId }), 'user_id');
    const missing = await as(
      admin.accessToken,
      'PATCH',
      '/api/v1/admin/users/00000000-0000-4000-8000-000000000000',
      {
        role: 'user',
      },
    );
    expect(missing.statusCode).toBe(404);
    expect(
      (await as(admin.accessToken, 'PATCH', '/api/v1/admin/users/not-a-uuid', { role: 'user' })).statusCode,
    ).toBe(404);
  });

  it('throttle overrides: only for a user or key that exists, and one in force per subject', async () => {
    const create = (subject_type: string, subject_id: string) =>
      as(admin.accessToken, 'POST', '/api/v1/admin/throttle-overrides', {
        subject_type,
        subject_id,
        rpm: 100,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      });
    const nobody = '00000000-0000-4000-8000-000000000000';
    expect422(await create('user', nobody), 'subject_id');
    expect((await create('user', nobody)).json().details).toEqual([
      { field: 'subject_id', message: 'no user has this id' },
    ]);
    expect422(await create('api_key', nobody), 'subject_id');
    const keyId = (await as(user.accessToken, 'GET', '/api/v1/api-keys')).json()[0].key_id as string;

    // Several creations for one subject at once: exactly one is in force; the others name it.
    const answers = await Promise.all(Array.from({ length: 8 }, () => create('api_key', keyId)));
    expect(answers.map((answer) => answer.statusCode).sort()).toEqual([201, ...Array(7).fill(409)]);
    const created = answers.find((answer) => answer.statusCode === 201)!.json().override_id as string;
    for (const refused of answers.filter((answer) => answer.statusCode === 409)) {
      expect(refused.json()).toMatchObject({
        error: 'conflict',
        reason: 'throttle_override_exists',
        override_id: created,
      });
    }
    // Another subject is not affected (the control), and once deleted the subject can get a new one.
    expect((await create('user', user.userId)).statusCode).toBe(201);
    expect(
      (await as(admin.accessToken, 'DELETE', `/api/v1/admin/throttle-overrides/${created}`)).statusCode,
    ).toBe(204);
    expect((await create('api_key', keyId)).statusCode).toBe(201);
  });
});
