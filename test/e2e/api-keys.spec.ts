import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { API_KEY_CACHE_TTL_MS } from '../../src/api-keys/api-key-auth.service';
import { generateApiKey } from '../../src/api-keys/api-key.format';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { useTestApp } from '../support/app';
import { LogCapture } from '../support/log-capture';
import { dumpEveryTable } from '../support/schema';

const KEY = /^vcp_[0-9A-Za-z]{46}$/;
const SECRET_FIELDS = ['api_key', 'key_hash', 'hash'];

describe.each([
  ['PostgreSQL', 'postgres'],
  ['PGlite', 'pglite'],
] as const)('API keys on %s', (_name, database) => {
  const logs = new LogCapture();
  const ctx = useTestApp({ database, env: { LOG_LEVEL: 'info' }, logDestination: logs });
  let owner: Session;
  const created: string[] = [];

  beforeAll(async () => {
    owner = await newSession(ctx.app, 'keys');
    created.push(owner.apiKey);
  });

  const call = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    headers: Record<string, string>,
    payload?: object,
  ) => ctx.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });
  const createKey = async (payload: object, headers: Record<string, string> = bearer(owner.accessToken)) => {
    const res = await call('POST', '/api-keys', headers, payload);
    if (res.statusCode === 201) created.push(res.json().api_key);
    return res;
  };

  it('register returns a working default key with the original’s scopes', async () => {
    const res = await call('GET', '/auth/api-key/validate', apiKeyHeader(owner.apiKey));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      user_id: owner.userId,
      username: owner.username,
      role: 'user',
      scopes: ['tasks:read', 'tasks:write', 'nodes:read', 'nodes:write', 'proofs:write'],
      key_id: expect.any(String),
      authenticated_via: 'api_key',
    });
    // The validate endpoint is about keys: a bearer token is not what it checks.
    expect((await call('GET', '/auth/api-key/validate', bearer(owner.accessToken))).statusCode).toBe(401);
  });

  it('create → use → list without secrets → rotate with grace → old key dies → revoke → 401', async () => {
    const made = await createKey({ name: 'ci', scopes: ['tasks:read', 'keys:manage'] });
    expect(made.statusCode).toBe(201);
    const key = made.json();
    expect(key).toEqual({
      key_id: expect.any(String),
      api_key: expect.stringMatching(KEY),
      key_prefix: key.api_key.slice(0, 12),
      name: 'ci',
      scopes: ['tasks:read', 'keys:manage'],
      rate_limit_tier: 'general',
      expires_at: null,
      last_used_at: null,
      created_at: expect.any(String),
      revoked_at: null,
    });

    const used = await call('GET', '/auth/api-key/validate', apiKeyHeader(key.api_key));
    expect(used.json()).toMatchObject({ key_id: key.key_id, scopes: ['tasks:read', 'keys:manage'] });
    // A key with keys:manage can manage keys itself.
    const listed = await call('GET', '/api-keys', apiKeyHeader(key.api_key));
    expect(listed.statusCode).toBe(200);
    const items = listed.json<Record<string, unknown>[]>();
    expect(items.map((k) => k.key_id)).toEqual(expect.arrayContaining([key.key_id]));
    for (const item of items) for (const field of SECRET_FIELDS) expect(item).not.toHaveProperty(field);
    expect(JSON.stringify(items)).not.toContain(key.api_key);
    const one = await call('GET', `/api-keys/${key.key_id}`, bearer(owner.accessToken));
    expect(one.json()).toMatchObject({ key_id: key.key_id, name: 'ci' });
    expect(one.json()).not.toHaveProperty('api_key');

    const rotated = await call('POST', `/api-keys/${key.key_id}/rotate`, bearer(owner.accessToken), {
      grace_seconds: 1,
    });
    expect(rotated.statusCode).toBe(201);
    const next = rotated.json();
    created.push(next.api_key);
    expect(next).toMatchObject({ name: 'ci', scopes: ['tasks:read', 'keys:manage'] });
    expect(next.api_key).not.toBe(key.api_key);
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(key.api_key))).statusCode).toBe(200); // grace
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(key.api_key))).statusCode).toBe(401);
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(next.api_key))).statusCode).toBe(200);

    const revoked = await call('DELETE', `/api-keys/${next.key_id}`, bearer(owner.accessToken));
    expect(revoked.statusCode).toBe(204);
    const after = await call('GET', '/auth/api-key/validate', apiKeyHeader(next.api_key));
    expect(after.statusCode).toBe(401); // at once on this replica
    expect(after.json().error).toBe('unauthorized');
  });

  it('rotation without grace retires the old key at once', async () => {
    const key = (await createKey({ name: 'short', scopes: ['tasks:read'] })).json();
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(key.api_key))).statusCode).toBe(200); // cached
    const next = await call('POST', `/api-keys/${key.key_id}/rotate`, bearer(owner.accessToken), {});
    created.push(next.json().api_key);
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(key.api_key))).statusCode).toBe(401);
  });

  it('a revocation made by another replica takes effect here within 5 s (cache TTL)', async () => {
    const key = (await createKey({ name: 'replica', scopes: ['tasks:read'] })).json();
    const validate = () => call('GET', '/auth/api-key/validate', apiKeyHeader(key.api_key));
    expect((await validate()).statusCode).toBe(200); // now cached on this replica
    // Another replica revokes it: only the shared database changes, not this replica's cache.
    await ctx.dataSource.query(
      `UPDATE api_keys SET revoked_at = now(), revoked_reason = 'revoked' WHERE key_id = $1`,
      [key.key_id],
    );
    await new Promise((resolve) => setTimeout(resolve, API_KEY_CACHE_TTL_MS + 100));
    expect((await validate()).statusCode).toBe(401);
    expect(API_KEY_CACHE_TTL_MS).toBeLessThanOrEqual(5000);
  });

  it('rejects a key with a wrong checksum without a single database query', async () => {
    const spy = jest.spyOn(PostgresQueryRunner.prototype, 'query');
    try {
      const good = owner.apiKey;
      const typo = good.slice(0, 10) + (good[10] === 'A' ? 'B' : 'A') + good.slice(11);
      spy.mockClear();
      const res = await call('GET', '/auth/api-key/validate', apiKeyHeader(typo));
      expect(res.statusCode).toBe(401);
      expect(spy).not.toHaveBeenCalled();
      // Control: a well-formed key that is unknown does reach the database.
      spy.mockClear();
      expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(generateApiKey()))).statusCode).toBe(
        401,
      );
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('never lets a key carry more than its creator has', async () => {
    expect((await createKey({ name: 'x', scopes: ['admin:users'] })).statusCode).toBe(403);
    const narrow = (await createKey({ name: 'narrow', scopes: ['tasks:read', 'keys:manage'] })).json();
    // Created with a key: only scopes that key carries.
    const wider = await createKey({ name: 'wider', scopes: ['tasks:write'] }, apiKeyHeader(narrow.api_key));
    expect(wider.statusCode).toBe(403);
    // The default key lacks keys:manage, so it cannot manage keys at all.
    expect((await call('GET', '/api-keys', apiKeyHeader(owner.apiKey))).statusCode).toBe(403);
    expect((await createKey({ name: 'bad', scopes: ['root'] })).statusCode).toBe(422);
    expect(
      (await createKey({ name: 'past', scopes: ['tasks:read'], expires_at: '2001-01-01T00:00:00Z' }))
        .statusCode,
    ).toBe(422);
    expect((await createKey({ name: 'x', scopes: ['tasks:read'], user_id: owner.userId })).statusCode).toBe(
      422,
    );
  });

  it('refuses expired keys and keys of disabled owners', async () => {
    const soon = new Date(Date.now() + 1000).toISOString();
    const key = (await createKey({ name: 'expiring', scopes: ['tasks:read'], expires_at: soon })).json();
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(key.api_key))).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(key.api_key))).statusCode).toBe(401);

    const other = await newSession(ctx.app, 'disabled');
    await ctx.dataSource.query(`UPDATE users SET disabled_at = now() WHERE user_id = $1`, [other.userId]);
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(other.apiKey))).statusCode).toBe(401);
  });

  it('keeps users apart: another user’s key id is 404 for read, revoke and rotate', async () => {
    const intruder = await newSession(ctx.app, 'intruder');
    const victimKey = (await createKey({ name: 'victim', scopes: ['tasks:read'] })).json();
    for (const [method, url] of [
      ['GET', `/api-keys/${victimKey.key_id}`],
      ['DELETE', `/api-keys/${victimKey.key_id}`],
      ['POST', `/api-keys/${victimKey.key_id}/rotate`],
      ['GET', '/api-keys/00000000-0000-4000-8000-000000000000'],
      ['GET', '/api-keys/not-a-uuid'],
    ] as const) {
      const res = await call(method, url, bearer(intruder.accessToken), method === 'POST' ? {} : undefined);
      expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 404 });
    }
    const list = await call('GET', '/api-keys', bearer(intruder.accessToken));
    expect(list.json().map((k: { key_id: string }) => k.key_id)).not.toContain(victimKey.key_id);
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(victimKey.api_key))).statusCode).toBe(
      200,
    );
  });

  it('refuses a key in the query string with 401 and never logs it', async () => {
    for (const param of ['api_key', 'key']) {
      const res = await ctx.app.inject({ method: 'GET', url: `/api/v1/auth/me?${param}=${owner.apiKey}` });
      expect(res.statusCode).toBe(401);
    }
    expect(logs.text).not.toContain(owner.apiKey.slice(4));
  });

  it('allows at most 50 live keys per user', async () => {
    const user = await newSession(ctx.app, 'many');
    const make = () =>
      call('POST', '/api-keys', bearer(user.accessToken), { name: 'k', scopes: ['tasks:read'] }).then((r) => {
        if (r.statusCode === 201) created.push(r.json().api_key);
        return r.statusCode;
      });
    const statuses: number[] = [];
    for (let i = 0; i < 49; i++) statuses.push(await make()); // + the default key = 50
    expect(statuses.every((s) => s === 201)).toBe(true);
    const over = await call('POST', '/api-keys', bearer(user.accessToken), {
      name: 'k',
      scopes: ['tasks:read'],
    });
    expect(over.statusCode).toBe(409);
  });

  it('audits create, rotate, revoke and failures, rate-limiting the failures', async () => {
    const rows: { action: string; n: number }[] = await ctx.dataSource.query(
      `SELECT action, count(*)::int AS n FROM audit_log WHERE action LIKE 'api_key.%' AND user_id = $1 GROUP BY action`,
      [owner.userId],
    );
    const counts = Object.fromEntries(rows.map((r) => [r.action, r.n]));
    expect(counts['api_key.created']).toBeGreaterThan(3);
    expect(counts['api_key.rotated']).toBe(2);
    expect(counts['api_key.revoked']).toBe(1);
    const [{ before }] = await ctx.dataSource.query(
      `SELECT count(*)::int AS before FROM audit_log WHERE action = 'auth.api_key_failed'`,
    );
    await Promise.all(
      Array.from({ length: 40 }, () => call('GET', '/auth/api-key/validate', apiKeyHeader(generateApiKey()))),
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // failure audits are written off the request path
    const [{ after }] = await ctx.dataSource.query(
      `SELECT count(*)::int AS after FROM audit_log WHERE action = 'auth.api_key_failed'`,
    );
    expect(after - before).toBeLessThanOrEqual(10);
    expect(after).toBeGreaterThan(0);
  });

  it('no table and no log line holds a plaintext key', async () => {
    expect(created.length).toBeGreaterThan(50);
    const everything = (await dumpEveryTable(ctx.dataSource)) + logs.text;
    for (const key of created) {
      expect(everything).not.toContain(key);
      expect(everything).not.toContain(key.slice(12)); // nor the secret part without the shown prefix
    }
  });
});
