import { useTestApp } from '../support/app';
import { apiKeyHeader, newSession, register, uniqueName } from '../support/auth';
import { freshClientIp } from '../support/client-ip';
import { LogCapture } from '../support/log-capture';
import { expect422 } from '../support/validation';

const PROXY = '10.251.0.7';

/** Issue 13 rows 9, 10, 11 and 16: hostile input on the login route and credentials in the query string. */
describe('auth under hostile input', () => {
  const logs = new LogCapture();
  const ctx = useTestApp({
    database: 'postgres',
    env: {
      LOG_LEVEL: 'info',
      TRUSTED_PROXY_CIDRS: '10.251.0.0/16',
      RATE_LIMIT_AUTH_RPM: '100000',
      RATE_LIMIT_AUTH_BURST: '100000',
    },
    logDestination: logs,
  });

  const login = (payload: object, headers: Record<string, string> = {}, remoteAddress = freshClientIp()) =>
    ctx.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload, headers, remoteAddress });

  describe('an unparsable X-Forwarded-For from a trusted proxy (row 9)', () => {
    it.each(['unknown', '1.2.3.4:80', '999.1.1.1', 'fe80::1%eth0', ''])(
      'answers %j as a proxied client of unknown address: 401 or 200, audited with the proxy address',
      async (forwarded) => {
        const username = uniqueName('xff');
        await register(ctx.app, username);
        const requestIds: string[] = [];
        for (const password of ['a wrong password', 'correct horse battery']) {
          const res = await login({ username, password }, { 'x-forwarded-for': forwarded }, PROXY);
          expect(res.statusCode).toBe(password === 'a wrong password' ? 401 : 200);
          requestIds.push(String(res.headers['x-request-id']));
        }
        const rows = await ctx.dataSource.query<{ status: string; ip: string }[]>(
          `SELECT status, host(ip_address) AS ip FROM audit_log
            WHERE action = 'auth.login' AND request_id = ANY($1) ORDER BY status`,
          [requestIds],
        );
        expect(rows).toEqual([
          { status: 'failure', ip: PROXY },
          { status: 'success', ip: PROXY },
        ]);
      },
    );

    it('still takes a well-formed forwarded address as the client', async () => {
      const client = freshClientIp();
      const res = await login(
        { username: uniqueName('nobody'), password: 'whatever pw' },
        {
          'x-forwarded-for': client,
        },
        PROXY,
      );
      expect(res.statusCode).toBe(401);
      const [row] = await ctx.dataSource.query<{ ip: string }[]>(
        `SELECT host(ip_address) AS ip FROM audit_log WHERE request_id = $1`,
        [res.headers['x-request-id']],
      );
      expect(row.ip).toBe(client);
    });
  });

  describe('control characters in the login username (row 10)', () => {
    it.each(['alice\u0000', '\u0000', 'bob\u0000; DROP TABLE users', '\u0001\u001f\u007f'])(
      'answers %j with 401 and audits the attempt',
      async (username) => {
        const res = await login({ username, password: 'correct horse battery' });
        expect(res.statusCode).toBe(401);
        expect(res.json()).toMatchObject({ error: 'unauthorized' });
        const rows = await ctx.dataSource.query<{ status: string }[]>(
          `SELECT status FROM audit_log WHERE request_id = $1`,
          [res.headers['x-request-id']],
        );
        expect(rows).toEqual([{ status: 'failure' }]);
      },
    );

    it('answers a lone surrogate (no UTF-8 form) with 422 naming the field', async () => {
      const res = await login({ username: 'x\ud800y', password: 'correct horse battery' });
      expect422(res, 'username');
    });

    it('does not let a NUL hide a real account: "name\\0" is not "name"', async () => {
      const session = await newSession(ctx.app, 'nul');
      const res = await login({ username: `${session.username}\u0000`, password: session.password });
      expect(res.statusCode).toBe(401);
    });
  });

  describe('passwords longer than bcrypt reads (row 11)', () => {
    it('refuses a password whose first 72 bytes match with the same 401 as a wrong one', async () => {
      const username = uniqueName('long');
      const password = 'p'.repeat(72);
      await register(ctx.app, username, password);
      expect((await login({ username, password })).statusCode).toBe(200);

      const longer = await login({ username, password: `${password}anything` });
      const wrong = await login({ username, password: 'q'.repeat(72) });
      expect(longer.statusCode).toBe(401);
      expect(longer.json()).toEqual({ ...wrong.json(), request_id: longer.json().request_id });
    });

    it('counts bytes, not characters: 25 three-byte characters (75 bytes) are refused', async () => {
      const username = uniqueName('utf8');
      const password = '€'.repeat(24); // 72 bytes
      await register(ctx.app, username, password);
      expect((await login({ username, password })).statusCode).toBe(200);
      expect((await login({ username, password: `${password}€` })).statusCode).toBe(401);
    });
  });

  describe('a VCP key in the query string, whatever the parameter (row 16)', () => {
    it.each([
      (key: string) => `x-api-key=${key}`,
      (key: string) => `api_key[]=${key}`,
      (key: string) => `innocent=${key}`,
      (key: string) => `q=prefix%20${key}`,
      (key: string) => `filter[a]=1&filter[b]=${encodeURIComponent(key)}`,
    ])('refuses the request with 401 and keeps the key out of the log (case %#)', async (query) => {
      const session = await newSession(ctx.app, 'qkey');
      const res = await ctx.app.inject({
        method: 'GET',
        url: `/api/v1/auth/me?${query(session.apiKey)}`,
        headers: apiKeyHeader(session.apiKey),
        remoteAddress: freshClientIp(),
      });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: 'unauthorized' });
      const line = (await logs.completedLine(res.headers['x-request-id'])) as { req: { url: string } };
      expect(line.req.url).toContain('/api/v1/auth/me?');
      expect(logs.text).not.toContain(session.apiKey.slice(4, 24));
    });

    it('refuses a key in the query of a public route too', async () => {
      const session = await newSession(ctx.app, 'qpub');
      const res = await login({ username: session.username, password: session.password });
      expect(res.statusCode).toBe(200);
      const refused = await ctx.app.inject({
        method: 'POST',
        url: `/api/v1/auth/login?k=${session.apiKey}`,
        payload: { username: session.username, password: session.password },
        remoteAddress: freshClientIp(),
      });
      expect(refused.statusCode).toBe(401);
      await logs.completedLine(refused.headers['x-request-id']);
      expect(logs.text).not.toContain(session.apiKey.slice(4, 24));
    });

    it('lets other vcp_-looking values through (not the key format)', async () => {
      const session = await newSession(ctx.app, 'qok');
      const res = await ctx.app.inject({
        method: 'GET',
        url: '/api/v1/auth/me?note=vcp_short',
        headers: apiKeyHeader(session.apiKey),
        remoteAddress: freshClientIp(),
      });
      // Not a credential (401): only a parameter this route does not take.
      expect(res.statusCode).toBe(422);
      expect(res.json().details).toEqual([{ field: 'note', message: 'is not an allowed field' }]);
    });
  });
});
