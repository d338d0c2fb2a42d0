import { FakeClock } from '../../src/common/clock/fake-clock';
import { UsersRepository } from '../../src/users/users.repository';
import { USER_STATUS_TTL_MS } from '../../src/users/user-status.cache';
import { useTestApp } from '../support/app';
import { bearer, login, newSession } from '../support/auth';
import { describeEachDatabase } from '../support/databases';

/**
 * Issue 13 row 15: access tokens are cut when the account's sessions are (logout-all, refresh-token reuse),
 * at once on the replica that did it and within the user-status cache window on the others.
 */
describeEachDatabase('access token cut-off on %s', (database) => {
  const clock = new FakeClock();
  const ctx = useTestApp({ database, clock });

  const me = (token: string) =>
    ctx.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) });
  const post = (url: string, payload: object, token?: string) =>
    ctx.app.inject({ method: 'POST', url: `/api/v1${url}`, payload, headers: token ? bearer(token) : {} });

  it('logout-all cuts every access token of the account at once; a new login works', async () => {
    const first = await newSession(ctx.app, 'cut');
    const second = await login(ctx.app, first.username, first.password);
    expect((await me(first.accessToken)).statusCode).toBe(200);
    expect((await me(second.access_token)).statusCode).toBe(200);

    expect((await post('/auth/logout-all', {}, first.accessToken)).statusCode).toBe(204);
    expect((await me(first.accessToken)).statusCode).toBe(401);
    expect((await me(second.access_token)).statusCode).toBe(401);
    expect((await me(second.access_token)).json()).toMatchObject({ error: 'unauthorized' });

    // The same second, the same clock: a fresh login is not caught by the cut-off.
    const again = await login(ctx.app, first.username, first.password);
    expect((await me(again.access_token)).statusCode).toBe(200);
  });

  it('refresh-token reuse cuts the access tokens issued to the account', async () => {
    const session = await newSession(ctx.app, 'reuse');
    const rotated = await post('/auth/refresh', { refresh_token: session.refreshToken });
    expect(rotated.statusCode).toBe(200);
    const { access_token: rotatedAccess } = rotated.json<{ access_token: string }>();
    expect((await me(rotatedAccess)).statusCode).toBe(200);

    const replay = await post('/auth/refresh', { refresh_token: session.refreshToken });
    expect(replay.statusCode).toBe(401);
    expect((await me(rotatedAccess)).statusCode).toBe(401);
    expect((await me(session.accessToken)).statusCode).toBe(401);

    const again = await login(ctx.app, session.username, session.password);
    expect((await me(again.access_token)).statusCode).toBe(200);
  });

  it('a cut-off made by another replica applies here once the user-status cache entry expires', async () => {
    const session = await newSession(ctx.app, 'replica');
    expect((await me(session.accessToken)).statusCode).toBe(200); // the status is now cached here
    // What another replica's logout-all writes, without this replica's cache hearing of it.
    await ctx.app.get(UsersRepository).cutAccessTokens(session.userId);
    expect((await me(session.accessToken)).statusCode).toBe(200);
    clock.advance(USER_STATUS_TTL_MS);
    expect((await me(session.accessToken)).statusCode).toBe(401);
  });

  it('leaves other accounts alone', async () => {
    const [a, b] = [await newSession(ctx.app, 'alone'), await newSession(ctx.app, 'alone')];
    expect((await post('/auth/logout-all', {}, a.accessToken)).statusCode).toBe(204);
    expect((await me(b.accessToken)).statusCode).toBe(200);
  });
});
