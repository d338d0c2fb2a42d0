import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestApp } from '../support/app';
import { newSession } from '../support/auth';
import { TEST_DEFAULTS } from '../support/config';
import { Sample, scrape, seriesKey, valueOf } from '../support/prometheus';
import { RateLimitProbeModule } from '../support/rate-limit-probe.module';
import { runServerToExit } from '../support/server-process';

const TOKEN = 'scrape-token-' + randomBytes(12).toString('hex');
const AUTH = { authorization: `Bearer ${TOKEN}` };
const HTTP_SERIES = ['http_request_count', 'http_errors'];
const LIMIT = 3;

/** How much each http_request_count / http_errors series grew between two scrapes (only the ones that did). */
function growth(before: Sample[], after: Sample[]): Record<string, number> {
  const previous = new Map(before.map((s) => [seriesKey(s), s.value]));
  const grown: Record<string, number> = {};
  for (const sample of after) {
    if (!HTTP_SERIES.includes(sample.name)) continue;
    const delta = sample.value - (previous.get(seriesKey(sample)) ?? 0);
    if (delta !== 0) grown[seriesKey(sample)] = delta;
  }
  return grown;
}

const key = (name: string, method: string, route: string, status: number) =>
  seriesKey({ name, labels: { method, route, status_code: String(status) }, value: 0 });

describe('metrics', () => {
  const ctx = useTestApp({
    env: {
      ...TEST_DEFAULTS,
      METRICS_TOKEN: TOKEN,
      RATE_LIMIT_GENERAL_RPM: String(LIMIT),
      RATE_LIMIT_GENERAL_BURST: String(LIMIT), // at most the per-minute limit (a start-up error above)
    },
    extraModules: [RateLimitProbeModule],
  });
  const get = (url: string, headers: Record<string, string> = {}, remoteAddress?: string) =>
    ctx.app.inject({ method: 'GET', url, headers, ...(remoteAddress ? { remoteAddress } : {}) });

  describe('GET /metrics access', () => {
    it('answers 401 in the usual error shape without the token, and with a wrong one', async () => {
      for (const headers of <Record<string, string>[]>[
        {},
        { authorization: 'Bearer wrong-token-0123456789abcdef' },
        { authorization: TOKEN },
      ]) {
        const res = await get('/metrics', headers);
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual({
          error: 'unauthorized',
          message: expect.any(String),
          request_id: expect.any(String),
        });
      }
    });

    it('serves Prometheus text with the default process metrics when the token is presented', async () => {
      const res = await get('/metrics', AUTH);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const { samples, types } = await scrape(ctx.app, AUTH);
      expect(types.get('process_cpu_user_seconds_total')).toBe('counter');
      expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    });

    it('exports no metric that nothing feeds yet (task and node metrics come with their modules)', async () => {
      const { types } = await scrape(ctx.app, AUTH);
      expect(types.get('http_request_count')).toBe('counter');
      for (const name of ['tasks_submitted_total', 'task_runs_total', 'task_queue_depth', 'nodes_online']) {
        expect({ name, type: types.get(name) }).toEqual({ name, type: undefined });
      }
    });

    it('is not rate limited and not under /api/v1', async () => {
      for (let i = 0; i < LIMIT * 3; i++) expect((await get('/metrics', AUTH)).statusCode).toBe(200);
      expect((await get('/api/v1/metrics', AUTH)).statusCode).toBe(404);
    });
  });

  it('counts 2xx, 401, 404, 405, 422 and 429 under the route template with exact label sets', async () => {
    const session = await newSession(ctx.app, 'metrics');
    const ip = `10.77.${Math.floor(Math.random() * 250)}.9`;
    const before = (await scrape(ctx.app, AUTH)).samples;

    for (let i = 0; i < 3; i++) expect((await get('/api/v1/health')).statusCode).toBe(200);
    for (let i = 0; i < 2; i++) expect((await get('/api/v1/auth/me')).statusCode).toBe(401);
    expect((await get(`/api/v1/circuits/${randomUUID()}`)).statusCode).toBe(401);
    expect((await get(`/api/v1/circuits/${randomUUID()}`)).statusCode).toBe(401);
    expect((await get('/api/v1/no/such/route')).statusCode).toBe(404);
    expect((await get('/definitely-not-here')).statusCode).toBe(404);
    const wrongMethod = (method: 'PATCH' | 'PUT', url: string) => ctx.app.inject({ method, url });
    expect((await wrongMethod('PATCH', '/api/v1/health/')).statusCode).toBe(405);
    expect((await wrongMethod('PUT', `/api/v1/tasks/${randomUUID()}?x=1`)).statusCode).toBe(405);
    // Past find-my-way's default parameter length (100), which Fastify's router answers 414 but still matches.
    expect((await wrongMethod('PUT', `/api/v1/tasks/${'a'.repeat(200)}`)).statusCode).toBe(405);
    const invalid = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'x', password: 42 },
    });
    expect(invalid.statusCode).toBe(422);
    const probes = [];
    for (let i = 0; i < LIMIT + 1; i++)
      probes.push((await get('/api/v1/rate-probe-a/hit', {}, ip)).statusCode);
    expect(probes).toEqual([...Array(LIMIT).fill(200), 429]);
    expect(
      (await get('/api/v1/auth/me', { authorization: `Bearer ${session.accessToken}` })).statusCode,
    ).toBe(200);

    const after = await scrape(ctx.app, AUTH);
    const count = (m: string, r: string, s: number) => key('http_request_count', m, r, s);
    const errors = (m: string, r: string, s: number) => key('http_errors', m, r, s);
    expect(growth(before, after.samples)).toEqual({
      [count('GET', '/metrics', 200)]: 1, // the first scrape, recorded once its response was sent
      [count('GET', '/api/v1/health', 200)]: 3,
      [count('GET', '/api/v1/auth/me', 401)]: 2,
      [errors('GET', '/api/v1/auth/me', 401)]: 2,
      [count('GET', '/api/v1/circuits/:circuit_id', 401)]: 2,
      [errors('GET', '/api/v1/circuits/:circuit_id', 401)]: 2,
      [count('GET', 'unmatched', 404)]: 2,
      [errors('GET', 'unmatched', 404)]: 2,
      // A 405's path is a known one: its template, not "unmatched" and never the raw path.
      [count('PATCH', '/api/v1/health', 405)]: 1,
      [errors('PATCH', '/api/v1/health', 405)]: 1,
      [count('PUT', '/api/v1/tasks/:task_id', 405)]: 2,
      [errors('PUT', '/api/v1/tasks/:task_id', 405)]: 2,
      [count('POST', '/api/v1/auth/login', 422)]: 1,
      [errors('POST', '/api/v1/auth/login', 422)]: 1,
      [count('GET', '/api/v1/rate-probe-a/hit', 200)]: LIMIT,
      [count('GET', '/api/v1/rate-probe-a/hit', 429)]: 1,
      [errors('GET', '/api/v1/rate-probe-a/hit', 429)]: 1,
      [count('GET', '/api/v1/auth/me', 200)]: 1,
    });

    // The histogram: seconds (said in HELP), 1 ms … 10 s buckets, the same labels, one observation per request.
    expect(after.types.get('http_request_duration')).toBe('histogram');
    expect(after.help.get('http_request_duration')).toMatch(/seconds/);
    const labels = { method: 'GET', route: '/api/v1/health', status_code: '200' };
    const buckets = after.samples
      .filter((s) => s.name === 'http_request_duration_bucket' && s.labels.route === '/api/v1/health')
      .filter((s) => s.labels.status_code === '200' && s.labels.method === 'GET');
    expect(buckets.map((b) => b.labels.le)).toEqual([
      '0.001',
      '0.0025',
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '10',
      '+Inf',
    ]);
    const countOf = (samples: Sample[]) => valueOf(samples, 'http_request_duration_count', labels);
    expect(countOf(after.samples) - countOf(before)).toBe(3);
    expect(valueOf(after.samples, 'http_request_duration_sum', labels)).toBeGreaterThan(0);

    // No raw path ever becomes a label.
    const routes = new Set(after.samples.map((s) => s.labels.route).filter(Boolean));
    for (const route of routes) expect(route).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}|no\/such|definitely/);

    expect(valueOf(after.samples, 'rate_limited_total', { tier: 'general' })).toBeGreaterThanOrEqual(1);
    expect(
      valueOf(after.samples, 'rate_limited_total', { tier: 'general' }) -
        valueOf(before, 'rate_limited_total', { tier: 'general' }),
    ).toBe(1);
  });

  it('counts authentication events where they happen', async () => {
    const before = (await scrape(ctx.app, AUTH)).samples;
    const session = await newSession(ctx.app, 'events');
    const bad = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: session.username, password: 'not the password' },
    });
    expect(bad.statusCode).toBe(401);
    const changePassword = (current: string) =>
      ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/password',
        headers: { authorization: `Bearer ${session.accessToken}` },
        payload: { current_password: current, new_password: 'another correct horse' },
      });
    expect((await changePassword('not the password')).statusCode).toBe(403);
    const changed = await changePassword(session.password);
    expect(changed.statusCode).toBe(200);
    const { refresh_token: refreshToken } = changed.json<{ refresh_token: string }>();
    const refresh = (token: string) =>
      ctx.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token } });
    expect((await refresh(refreshToken)).statusCode).toBe(200);
    expect((await refresh(refreshToken)).statusCode).toBe(401); // replay of a rotated token
    expect(
      (await get('/api/v1/auth/me', { 'x-api-key': `${session.apiKey.slice(0, -6)}zzzzzz` })).statusCode,
    ).toBe(401);
    // A refused bearer token is counted (never audited: README, Audit log); one a valid key stands in for is not.
    expect((await get('/api/v1/auth/me', { authorization: 'Bearer not.a.jwt' })).statusCode).toBe(401);
    const keyInstead = { authorization: 'Bearer not.a.jwt', 'x-api-key': session.apiKey };
    expect((await get('/api/v1/auth/me', keyInstead)).statusCode).toBe(200);
    const after = (await scrape(ctx.app, AUTH)).samples;
    const delta = (event: string) =>
      valueOf(after, 'auth_events_total', { event }) - valueOf(before, 'auth_events_total', { event });
    expect({
      register: delta('register'),
      login_success: delta('login_success'),
      login_failure: delta('login_failure'),
      refresh: delta('refresh'),
      refresh_reuse_detected: delta('refresh_reuse_detected'),
      api_key_failure: delta('api_key_failure'),
      access_token_failure: delta('access_token_failure'),
      password_change: delta('password_change'),
      password_change_failure: delta('password_change_failure'),
    }).toEqual({
      register: 1,
      login_success: 1,
      login_failure: 1,
      refresh: 1,
      refresh_reuse_detected: 1,
      api_key_failure: 1,
      access_token_failure: 1,
      password_change: 1,
      password_change_failure: 1,
    });
  });

  it('adds no series for 10 000 requests to random paths that match no route', async () => {
    await get('/warm-up-unmatched');
    await get(`/api/v1/circuits/${randomUUID()}`);
    const before = (await scrape(ctx.app, AUTH)).samples;
    const unmatchedBefore = valueOf(before, 'http_request_count', {
      method: 'GET',
      route: 'unmatched',
      status_code: '404',
    });
    for (let i = 0; i < 10_000; i++) {
      const noise = randomBytes(6).toString('hex');
      const url = i % 2 === 0 ? `/${noise}/${i}?q=${noise}` : `/api/v1/${noise}/x/${i}`;
      const res = await get(url);
      if (res.statusCode !== 404) throw new Error(`${url} answered ${res.statusCode}`);
    }
    const after = (await scrape(ctx.app, AUTH)).samples;
    const seriesOf = (samples: Sample[]) => new Set(samples.map(seriesKey));
    const added = [...seriesOf(after)].filter((s) => !seriesOf(before).has(s));
    // Only the first scrape's own series may appear (it was recorded after its response was sent).
    expect(added.filter((s) => !s.includes('route="/metrics"'))).toEqual([]);
    expect(
      valueOf(after, 'http_request_count', { method: 'GET', route: 'unmatched', status_code: '404' }) -
        unmatchedBefore,
    ).toBe(10_000);
  }, 120_000);
});

describe('metrics restricted by address', () => {
  const ctx = useTestApp({ database: 'pglite', env: { METRICS_ALLOWED_CIDRS: '10.9.0.0/16, 192.0.2.7' } });
  const from = (remoteAddress: string) => ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress });

  it('serves addresses inside METRICS_ALLOWED_CIDRS (IPv4-mapped IPv6 included) and refuses others with 403', async () => {
    expect((await from('10.9.3.4')).statusCode).toBe(200);
    expect((await from('192.0.2.7')).statusCode).toBe(200);
    expect((await from('::ffff:10.9.200.1')).statusCode).toBe(200);
    for (const outside of ['10.10.0.1', '192.0.2.8', '2001:db8::1', '127.0.0.1']) {
      const res = await from(outside);
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ error: 'forbidden', request_id: expect.any(String) });
    }
  });
});

describe('two apps in one process', () => {
  const a = useTestApp({ database: 'pglite' });
  const b = useTestApp({ database: 'pglite' });
  const healthCount = async (app: NestFastifyApplication) =>
    valueOf((await scrape(app)).samples, 'http_request_count', {
      method: 'GET',
      route: '/api/v1/health',
      status_code: '200',
    });

  it('both boot, and each counts only its own requests', async () => {
    const [startA, startB] = [await healthCount(a.app), await healthCount(b.app)];
    for (let i = 0; i < 5; i++) await a.app.inject({ method: 'GET', url: '/api/v1/health' });
    for (let i = 0; i < 2; i++) await b.app.inject({ method: 'GET', url: '/api/v1/health' });
    expect((await healthCount(a.app)) - startA).toBe(5);
    expect((await healthCount(b.app)) - startB).toBe(2);
    const defaults = (await scrape(b.app)).samples.filter((s) => s.name === 'process_cpu_user_seconds_total');
    expect(defaults).toHaveLength(1);
  });
});

describe('in production', () => {
  it('refuses to start with neither METRICS_TOKEN nor METRICS_ALLOWED_CIDRS, naming the variables', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vcp-metrics-prod-'));
    try {
      const { code, output } = await runServerToExit({
        DATA_DIR: dataDir,
        ENVIRONMENT: 'production',
        JWT_SECRET: 'k7Qw9zR2mX4pL8vN1bY6cF3hJ5tG0sAa',
        REFRESH_TOKEN_PEPPER: 'a-strong-pepper-value-1234567890',
        API_KEY_PEPPER: 'another-strong-pepper-0987654321',
        CORS_ALLOWED_ORIGINS: 'https://app.example.com',
      });
      expect(code).toBe(78);
      expect(output).toContain('METRICS_TOKEN or METRICS_ALLOWED_CIDRS is required in production');
      expect(output).not.toMatch(/JWT_SECRET|PEPPER|CORS/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
