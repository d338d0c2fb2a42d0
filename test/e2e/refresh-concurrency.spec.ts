import { useTestApp } from '../support/app';
import { newSession } from '../support/auth';

/** Racing refreshes with one token on real PostgreSQL, through a pool with many connections. */
describe('concurrent refreshes with one refresh token', () => {
  const ctx = useTestApp({ env: { DB_MAX_CONNECTIONS: '20' } });

  it('50 at once → exactly one 200, one successor, never two live tokens in the family', async () => {
    const session = await newSession(ctx.app);
    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        ctx.app.inject({
          method: 'POST',
          url: '/api/v1/auth/refresh',
          payload: { refresh_token: session.refreshToken },
        }),
      ),
    );
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(49);

    const [row] = await ctx.dataSource.query(
      `SELECT count(*)::int AS total,
              count(*) FILTER (WHERE parent_id IS NOT NULL)::int AS successors,
              count(*) FILTER (WHERE revoked_at IS NULL)::int AS live
         FROM refresh_tokens WHERE user_id = $1`,
      [session.userId],
    );
    expect(row).toEqual({ total: 2, successors: 1, live: 0 }); // the losers' replays killed the family
    const [{ n }] = await ctx.dataSource.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'auth.refresh_reuse_detected' AND user_id = $1`,
      [session.userId],
    );
    expect(n).toBe(49);
  });

  it('the database refuses a second live token in a family even if the code tried', async () => {
    const session = await newSession(ctx.app);
    await expect(
      ctx.dataSource.query(
        `INSERT INTO refresh_tokens (user_id, token_hash, expires_at, family_id, family_expires_at)
         SELECT user_id, repeat('a', 64), expires_at, family_id, family_expires_at FROM refresh_tokens WHERE user_id = $1`,
        [session.userId],
      ),
    ).rejects.toThrow(/refresh_tokens_one_live_per_family/);
  });
});
