import { useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, newSession } from '../support/auth';

/**
 * A UUID in a path is accepted in either case (RFC 4122 spells them both ways) and acts on the id as stored:
 * what a change must clear at once on this replica — a revoked key, a disabled account — is found by it.
 */
describe('path ids spelled in capitals', () => {
  const ctx = useAdminApp({ database: 'pglite' });

  const me = (headers: Record<string, string>) =>
    ctx.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers });

  it('a key revoked by its id in capitals stops working at once, as with the id as listed', async () => {
    const user = await newSession(ctx.app, 'caps');
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: bearer(user.accessToken),
      payload: { name: 'to revoke', scopes: ['tasks:read'] },
    });
    const { key_id, api_key } = created.json<{ key_id: string; api_key: string }>();
    // Used once, so this replica holds it in its cache of authenticated keys.
    expect((await me(apiKeyHeader(api_key))).statusCode).toBe(200);
    const revoked = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/v1/api-keys/${key_id.toUpperCase()}`,
      headers: bearer(user.accessToken),
    });
    expect(revoked.statusCode).toBe(204);
    expect((await me(apiKeyHeader(api_key))).statusCode).toBe(401);
  });

  it('an account disabled by its id in capitals is locked out at once', async () => {
    const user = await newSession(ctx.app, 'caps');
    expect((await me(bearer(user.accessToken))).statusCode).toBe(200);
    const disabled = await ctx.app.inject({
      method: 'PATCH',
      url: `/api/v1/admin/users/${user.userId.toUpperCase()}`,
      headers: bearer(ctx.admin.accessToken),
      payload: { disabled: true },
    });
    expect(disabled.statusCode).toBe(200);
    expect(disabled.json()).toMatchObject({ user_id: user.userId, disabled: true });
    expect((await me(bearer(user.accessToken))).statusCode).toBe(401);
    expect((await me(apiKeyHeader(user.apiKey))).statusCode).toBe(401);
  });
});
