import { useTestApp } from '../support/app';
import { apiKeyHeader, bearer, newSession, uniqueName } from '../support/auth';
import { LogCapture } from '../support/log-capture';

interface CompletedLine {
  msg: string;
  request_id: string;
  route: string;
  principal_id: string | null;
  api_key_id?: string;
  duration_ms: number;
  req: { method: string; url: string; headers: Record<string, string> };
  res: { statusCode: number };
}

describe('request logs', () => {
  const logs = new LogCapture();
  const ctx = useTestApp({
    database: 'pglite',
    env: { LOG_LEVEL: 'info', METRICS_TOKEN: 'request-logs-metrics-token-0123456789' },
    logDestination: logs,
  });
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object, headers = {}) =>
    ctx.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });

  it('logs one line per request of a full auth flow, with route, status, duration and principal, and no secret', async () => {
    const username = uniqueName('logs');
    const password = 'Correct Horse Battery 9';
    const secrets: string[] = [password];
    const responses: Awaited<ReturnType<typeof call>>[] = [];
    const track = (res: Awaited<ReturnType<typeof call>>) => {
      responses.push(res);
      return res;
    };

    const registered = track(await call('POST', '/auth/register', { username, password })).json();
    secrets.push(registered.api_key);
    const tokens = track(await call('POST', '/auth/login', { username, password })).json();
    secrets.push(tokens.access_token, tokens.refresh_token);
    track(await call('POST', '/auth/login', { username, password: 'a wrong password' }));
    track(await call('GET', '/auth/me', undefined, bearer(tokens.access_token)));
    const next = track(await call('POST', '/auth/refresh', { refresh_token: tokens.refresh_token })).json();
    secrets.push(next.access_token, next.refresh_token);
    const key = track(
      await call('POST', '/api-keys', { name: 'logged', scopes: ['tasks:read'] }, bearer(next.access_token)),
    ).json();
    secrets.push(key.api_key);
    const validated = track(
      await call('GET', '/auth/api-key/validate', undefined, apiKeyHeader(key.api_key)),
    );
    track(await call('GET', '/auth/me', undefined, apiKeyHeader(`${key.api_key.slice(0, -4)}AAAA`)));
    track(await call('GET', `/api-keys/${key.key_id}`, undefined, bearer(next.access_token)));
    track(await call('POST', '/auth/logout', { refresh_token: next.refresh_token }));
    track(await call('GET', '/no/such/route'));
    expect(responses.map((r) => r.statusCode)).toEqual([
      201, 200, 401, 200, 200, 201, 200, 401, 200, 204, 404,
    ]);

    // First find the line of every request (the lines the secrets would be in), then search all lines.
    const userId = registered.user_id as string;
    const expected = [
      ['POST', '/api/v1/auth/register', 201, null],
      ['POST', '/api/v1/auth/login', 200, null],
      ['POST', '/api/v1/auth/login', 401, null],
      ['GET', '/api/v1/auth/me', 200, userId],
      ['POST', '/api/v1/auth/refresh', 200, null],
      ['POST', '/api/v1/api-keys', 201, userId],
      ['GET', '/api/v1/auth/api-key/validate', 200, userId],
      ['GET', '/api/v1/auth/me', 401, null],
      ['GET', '/api/v1/api-keys/:key_id', 200, userId],
      ['POST', '/api/v1/auth/logout', 204, null],
      ['GET', 'unmatched', 404, null],
    ];
    const lineOf = async (res: { headers: Record<string, unknown> }) =>
      (await logs.completedLine(res.headers['x-request-id'])) as unknown as CompletedLine;
    let redactedCredentials = 0;
    for (const [i, res] of responses.entries()) {
      const line = await lineOf(res);
      for (const header of ['authorization', 'x-api-key'].filter((h) => h in line.req.headers)) {
        expect(line.req.headers[header]).toBe('[redacted]');
        redactedCredentials++;
      }
      const [method, route, status, principal] = expected[i];
      expect({ method: line.req.method, route: line.route, status: line.res.statusCode }).toEqual({
        method,
        route,
        status,
      });
      expect(line.principal_id).toBe(principal);
      expect(line.duration_ms).toEqual(expect.any(Number));
      expect(line.duration_ms).toBeGreaterThanOrEqual(0);
    }
    expect(redactedCredentials).toBe(5); // the five requests above that sent a token or a key
    expect((await lineOf(validated)).api_key_id).toBe(key.key_id);

    // Secrets, whole and in their distinctive parts (a JWT's signature, a key's body).
    const needles = secrets.flatMap((s) => [s, s.split('.').pop()!, s.slice(4, 24)]);
    for (const needle of needles) expect(logs.text).not.toContain(needle);
  });

  // The line is written by a Fastify onResponse hook from the request itself (no pino-http middleware, no
  // per-request child logger): everything an operator joins on must still be on it.
  it('names request id, route template, principal and API key on the line of a keyed request, and audits the key', async () => {
    const session = await newSession(ctx.app, 'keyline');
    const created = await call(
      'POST',
      '/api-keys',
      { name: 'line', scopes: ['keys:manage'] },
      bearer(session.accessToken),
    );
    expect(created.statusCode).toBe(201);
    const { key_id, api_key } = created.json<{ key_id: string; api_key: string }>();
    // The creation's audit line: context, action, status, user, resource and the request's id.
    const audit = await logs.onlyLine(
      (line) => line.context === 'Audit' && line.request_id === created.headers['x-request-id'],
    );
    expect(audit).toMatchObject({
      level: 30,
      service: 'vcp',
      audit: 'api_key.created',
      status: 'success',
      user_id: session.userId,
      resource: `api_key:${key_id}`,
    });
    const res = await call('GET', `/api-keys/${key_id}`, undefined, apiKeyHeader(api_key));
    expect(res.statusCode).toBe(200);
    const line = (await logs.completedLine(res.headers['x-request-id'])) as unknown as CompletedLine;
    expect(line).toMatchObject({
      request_id: res.headers['x-request-id'],
      route: '/api/v1/api-keys/:key_id',
      principal_id: session.userId,
      api_key_id: key_id,
      res: { statusCode: 200 },
      req: { method: 'GET', url: `/api/v1/api-keys/${key_id}` },
    });
    expect(line.req.headers['x-api-key']).toBe('[redacted]');
    // The same route with a JWT: same template and principal, and no api_key_id.
    const byJwt = await call('GET', `/api-keys/${key_id}`, undefined, bearer(session.accessToken));
    const jwtLine = (await logs.completedLine(byJwt.headers['x-request-id'])) as unknown as CompletedLine;
    expect(jwtLine).toMatchObject({ route: '/api/v1/api-keys/:key_id', principal_id: session.userId });
    expect(jwtLine).not.toHaveProperty('api_key_id');
  });

  it('names the route template of a 405 (a known path, another method) and keeps "unmatched" for a 404', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const requests = [
      {
        method: 'PUT' as const,
        url: `/api/v1/tasks/${id}?x=1`,
        status: 405,
        route: '/api/v1/tasks/:task_id',
      },
      { method: 'POST' as const, url: '/api/v1/health/', status: 405, route: '/api/v1/health' },
      { method: 'PUT' as const, url: `/api/v1/tasks/${id}/nope`, status: 404, route: 'unmatched' },
    ];
    for (const { method, url, status, route } of requests) {
      const res = await ctx.app.inject({ method, url });
      const line = await logs.completedLine(res.headers['x-request-id']);
      expect({ url, status: res.statusCode, route: line.route }).toEqual({ url, status, route });
    }
  });

  it('logs a /metrics scrape once, like any other request', async () => {
    const responses = [
      await ctx.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: 'Bearer request-logs-metrics-token-0123456789' },
      }),
      await ctx.app.inject({ method: 'GET', url: '/metrics' }),
      await ctx.app.inject({ method: 'GET', url: '/api/v1/health' }),
    ];
    for (const res of responses) {
      const id = res.headers['x-request-id'];
      await logs.completedLine(id);
      const completed = logs.parsed().filter((line) => line.request_id === id && 'res' in line);
      expect({ url: res.raw.req.url, status: res.statusCode, lines: completed.length }).toEqual({
        url: res.raw.req.url,
        status: res.statusCode,
        lines: 1,
      });
    }
    expect(responses.map((r) => r.statusCode)).toEqual([200, 401, 200]);
  });

  it('redacts tokens from the query string of the line by name and by shape, and refuses them (401)', async () => {
    const session = await newSession(ctx.app, 'querylog');
    const refresh = session.refreshToken;
    const jwt = session.accessToken;
    const query =
      `jwt=${jwt}&accessToken=${jwt}&auth=Bearer%20${jwt}&refresh=${refresh}&refreshToken=${refresh}` +
      `&secret=s3cr3t-value&client_secret=s3cr3t-value&passwd=s3cr3t-value&pass=s3cr3t-value&q=${jwt}`;
    const res = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/auth/me?${query}`,
      headers: bearer(jwt),
    });
    expect(res.statusCode).toBe(401);
    const line = (await logs.completedLine(res.headers['x-request-id'])) as unknown as CompletedLine & {
      req: { query: Record<string, string> };
    };
    const logged = JSON.stringify(line);
    for (const secret of [jwt, jwt.split('.').pop()!, refresh, refresh.slice(3), 's3cr3t-value'])
      expect(logged).not.toContain(secret);
    expect(Object.values(line.req.query)).toEqual(Array(10).fill('[redacted]'));
  });

  it('redacts a key or a token pasted into the path, from the line and from the 404 that names the path', async () => {
    const session = await newSession(ctx.app, 'pathlog');
    const key = session.apiKey;
    const jwt = session.accessToken;
    const requests = [
      { method: 'DELETE' as const, url: `/api/v1/api-keys/${key}`, headers: bearer(jwt) },
      { method: 'GET' as const, url: `/api/v1/${key}` },
      { method: 'GET' as const, url: `/${jwt}/x` },
      { method: 'PUT' as const, url: `/api/v1/api-keys/${session.refreshToken}` },
    ];
    for (const request of requests) {
      const res = await ctx.app.inject(request);
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      const line = await logs.completedLine(res.headers['x-request-id']);
      for (const text of [JSON.stringify(line), res.body])
        for (const secret of [key, key.slice(12), jwt.split('.').pop()!, session.refreshToken.slice(3)])
          expect(text).not.toContain(secret);
      expect((line as unknown as CompletedLine).req.url).toContain('[redacted]');
    }
    const notFound = await ctx.app.inject({ method: 'GET', url: `/api/v1/${key}` });
    expect(notFound.json()).toMatchObject({
      error: 'not_found',
      message: 'No route for GET /api/v1/[redacted]',
    });
  });

  it('logs and counts a request the router refused (bad percent-encoding, over-long parameter), once', async () => {
    const scrape = async () =>
      (
        await ctx.app.inject({
          method: 'GET',
          url: '/metrics',
          headers: { authorization: 'Bearer request-logs-metrics-token-0123456789' },
        })
      ).body;
    const unmatched400 = (text: string) =>
      Number(
        /http_request_count\{method="GET",route="unmatched",status_code="400"\} (\d+)/.exec(text)?.[1] ?? 0,
      );
    const before = unmatched400(await scrape());
    for (const url of ['/api/v1/tasks/%zz', `/api/v1/tasks/${'a'.repeat(101)}`]) {
      const res = await ctx.app.inject({ method: 'GET', url });
      const line = await logs.completedLine(res.headers['x-request-id']);
      expect(line).toMatchObject({ route: 'unmatched', res: { statusCode: res.statusCode }, level: 40 });
    }
    expect(unmatched400(await scrape())).toBe(before + 1);
  });
});
