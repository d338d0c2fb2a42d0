import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { API_KEY_CACHE_TTL_MS } from '../../src/api-keys/api-key-auth.service';
import { generateApiKey } from '../../src/api-keys/api-key.format';
import { ApiKeysRepository } from '../../src/api-keys/api-keys.repository';
import { FakeClock } from '../../src/common/clock/fake-clock';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { useTestApp } from '../support/app';
import { freshClientIp } from '../support/client-ip';
import { describeEachDatabase } from '../support/databases';
import { eventually } from '../support/eventually';
import { LogCapture } from '../support/log-capture';
import { scrape, valueOf } from '../support/prometheus';
import { dumpEveryTable } from '../support/schema';
import { expect422 } from '../support/validation';

const KEY = /^vcp_[0-9A-Za-z]{46}$/;
const SECRET_FIELDS = ['api_key', 'key_hash', 'hash'];

/**
 * One capture for both apps of this file: nestjs-pino builds its logger once per process, so the second app
 * logs to the destination the first app was given.
 */
const logs = new LogCapture();

describeEachDatabase('API keys on %s', (database) => {
  // The app's clock: caches count down on it. Stored expiry is judged by the database's own now().
  const clock = new FakeClock();
  const ctx = useTestApp({ database, env: { LOG_LEVEL: 'info' }, logDestination: logs, clock });
  let owner: Session;

  beforeAll(async () => {
    owner = await newSession(ctx.app, 'keys');
  });

  const call = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    headers: Record<string, string>,
    payload?: object,
  ) => ctx.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });
  const createKey = (payload: object, headers: Record<string, string> = bearer(owner.accessToken)) =>
    call('POST', '/api-keys', headers, payload);

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

  it('with a bearer token and a key together, a valid token decides; otherwise the key does', async () => {
    const other = await newSession(ctx.app, 'keys_both');
    const both = (token: string) => ({ ...bearer(token), ...apiKeyHeader(other.apiKey) });
    const me = async (headers: Record<string, string>) => (await call('GET', '/auth/me', headers)).json();
    expect(await me(both(owner.accessToken))).toMatchObject({ user_id: owner.userId });
    // A token that is not valid (here: not a token at all) leaves the key: the request is the key owner's.
    expect(await me(both('not.a.token'))).toMatchObject({ user_id: other.userId });
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
      replaced_by: null,
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
    expect(next).toMatchObject({ name: 'ci', scopes: ['tasks:read', 'keys:manage'] });
    expect(next.api_key).not.toBe(key.api_key);
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(key.api_key))).statusCode).toBe(200); // grace
    clock.advance(1300); // the grace ends while the key is in this replica's cache
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
    expect(next.statusCode).toBe(201);
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
    clock.advance(API_KEY_CACHE_TTL_MS);
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
    expect422(await createKey({ name: 'bad', scopes: ['root'] }), 'scopes');
    expect422(
      await createKey({ name: 'past', scopes: ['tasks:read'], expires_at: '2001-01-01T00:00:00Z' }),
      'expires_at',
    );
    expect422(await createKey({ name: 'x', scopes: ['tasks:read'], user_id: owner.userId }), 'user_id');
  });

  it('refuses expired keys and keys of disabled owners', async () => {
    const [{ soon }] = await ctx.dataSource.query<{ soon: Date }[]>(
      `SELECT now() + interval '1 second' AS soon`,
    );
    const key = (
      await createKey({ name: 'expiring', scopes: ['tasks:read'], expires_at: soon.toISOString() })
    ).json();
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(key.api_key))).statusCode).toBe(200);
    clock.advance(1200); // expires while cached: the cached entry does not outlive the key
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(key.api_key))).statusCode).toBe(401);
    // Read fresh from the database, a key is judged by the database's clock.
    const lapsed = (await createKey({ name: 'lapsed', scopes: ['tasks:read'] })).json();
    await ctx.dataSource.query(`UPDATE api_keys SET expires_at = now() - interval '1 ms' WHERE key_id = $1`, [
      lapsed.key_id,
    ]);
    expect((await call('GET', '/auth/api-key/validate', apiKeyHeader(lapsed.api_key))).statusCode).toBe(401);

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
      // First the line that would carry the key: it exists, and shows the parameter redacted.
      expect(await logs.completedLine(res.headers['x-request-id'])).toMatchObject({
        req: { url: `/api/v1/auth/me?${param}=[redacted]` },
        res: { statusCode: 401 },
      });
    }
    expect(logs.text).not.toContain(owner.apiKey.slice(4));
  });

  it('allows at most 50 live keys per user', async () => {
    const user = await newSession(ctx.app, 'many');
    const make = () =>
      call('POST', '/api-keys', bearer(user.accessToken), { name: 'k', scopes: ['tasks:read'] }).then(
        (r) => r.statusCode,
      );
    const statuses: number[] = [];
    for (let i = 0; i < 49; i++) statuses.push(await make()); // + the default key = 50
    expect(statuses.every((s) => s === 201)).toBe(true);
    const over = await call('POST', '/api-keys', bearer(user.accessToken), {
      name: 'k',
      scopes: ['tasks:read'],
    });
    expect(over.statusCode).toBe(409);
  });

  it('audits creation, rotation and revocation, each with the key it concerns', async () => {
    const user = await newSession(ctx.app, 'audited');
    const made = (
      await createKey({ name: 'audited', scopes: ['tasks:read'] }, bearer(user.accessToken))
    ).json();
    const rotated = await call('POST', `/api-keys/${made.key_id}/rotate`, bearer(user.accessToken), {});
    const revoked = await call('DELETE', `/api-keys/${rotated.json().key_id}`, bearer(user.accessToken));
    expect([rotated.statusCode, revoked.statusCode]).toEqual([201, 204]);
    const rows: { action: string; resource_id: string }[] = await ctx.dataSource.query(
      `SELECT action, resource_id FROM audit_log
        WHERE action LIKE 'api_key.%' AND user_id = $1 AND resource_id = ANY($2) ORDER BY action`,
      [user.userId, [made.key_id, rotated.json().key_id]],
    );
    expect(rows).toEqual([
      { action: 'api_key.created', resource_id: made.key_id },
      { action: 'api_key.revoked', resource_id: rotated.json().key_id },
      { action: 'api_key.rotated', resource_id: made.key_id },
    ]);
  });

  const itOnPostgres: jest.It = database === 'postgres' ? it : ((() => undefined) as unknown as jest.It);

  itOnPostgres('two concurrent revocations of one key write one audit row', async () => {
    const user = await newSession(ctx.app, 'revoke_race');
    const made = (
      await createKey({ name: 'raced', scopes: ['tasks:read'] }, bearer(user.accessToken))
    ).json();
    // Both requests read the key as live before either revokes it: the race, made certain. (PostgreSQL only:
    // PGlite runs one transaction at a time, so the second would never reach the barrier.)
    const repository = ctx.app.get(ApiKeysRepository);
    let arrived = 0;
    let bothArrived!: () => void;
    const barrier = new Promise<void>((resolve) => (bothArrived = resolve));
    jest.spyOn(repository, 'findOwned').mockImplementation(async (...args) => {
      const key = await ApiKeysRepository.prototype.findOwned.apply(repository, args);
      if (++arrived === 2) bothArrived();
      await barrier;
      return key;
    });
    const answers = await Promise.all(
      [1, 2].map(() => call('DELETE', `/api-keys/${made.key_id}`, bearer(user.accessToken))),
    );
    jest.mocked(repository.findOwned).mockRestore();
    expect(answers.map((res) => res.statusCode)).toEqual([204, 204]);
    const rows: { action: string }[] = await ctx.dataSource.query(
      `SELECT action FROM audit_log WHERE action = 'api_key.revoked' AND resource_id = $1`,
      [made.key_id],
    );
    expect(rows).toHaveLength(1);
  });

  it('audits a refused real key with the key and its owner; an unknown key with neither', async () => {
    const user = await newSession(ctx.app, 'refused_key');
    const made = (await createKey({ name: 'gone', scopes: ['tasks:read'] }, bearer(user.accessToken))).json();
    await call('DELETE', `/api-keys/${made.key_id}`, bearer(user.accessToken));
    const [known, unknown] = [freshClientIp(), freshClientIp()];
    const attempt = (key: string, remoteAddress: string) =>
      ctx.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: apiKeyHeader(key), remoteAddress });
    expect((await attempt(made.api_key, known)).statusCode).toBe(401);
    expect((await attempt(generateApiKey(), unknown)).statusCode).toBe(401);
    // Failure rows are written off the request path: wait for both.
    const rows = await eventually(async () => {
      const found = await ctx.dataSource.query(
        `SELECT host(ip_address) AS ip, user_id, resource_type, resource_id, error_message FROM audit_log
          WHERE action = 'auth.api_key_failed' AND host(ip_address) = ANY($1)`,
        [[known, unknown]],
      );
      expect(found).toHaveLength(2);
      return found;
    });
    expect(rows).toEqual(
      expect.arrayContaining([
        {
          ip: known,
          user_id: user.userId,
          resource_type: 'api_key',
          resource_id: made.key_id,
          error_message: 'revoked',
        },
        { ip: unknown, user_id: null, resource_type: null, resource_id: null, error_message: 'unknown' },
      ]),
    );
  });

  it('audits exactly 10 failed key authentications a minute from a fresh client address, and not the 11th to the 40th', async () => {
    const client = freshClientIp();
    const failWith = (remoteAddress: string) =>
      ctx.app.inject({
        method: 'GET',
        url: '/api/v1/auth/api-key/validate',
        headers: apiKeyHeader(generateApiKey()), // well-formed and unknown: a failure worth auditing
        remoteAddress,
      });
    const failureEvents = async () =>
      valueOf((await scrape(ctx.app)).samples, 'auth_events_total', { event: 'api_key_failure' });
    const auditedFrom = (ip: string): Promise<{ request_id: string }[]> =>
      ctx.dataSource.query(
        `SELECT request_id FROM audit_log WHERE action = 'auth.api_key_failed' AND ip_address = $1::inet`,
        [ip],
      );

    const eventsBefore = await failureEvents();
    const requestIds: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await failWith(client);
      expect(res.statusCode).toBe(401);
      requestIds.push(String(res.headers['x-request-id']));
    }
    // All 40 were failed key authentications, so the rows below are the audit limit's doing alone.
    expect((await failureEvents()) - eventsBefore).toBe(40);

    // The rows are written off the request path: wait for ten, then for a marker sent from another fresh
    // address after all 40 were answered, so that no row of the burst can still be on its way.
    await eventually(async () => expect(await auditedFrom(client)).toHaveLength(10));
    const marker = freshClientIp();
    const markerRequest = String((await failWith(marker)).headers['x-request-id']);
    await eventually(async () => expect(await auditedFrom(marker)).toEqual([{ request_id: markerRequest }]));

    const rows = await auditedFrom(client);
    expect(rows.map((r) => r.request_id).sort()).toEqual(requestIds.slice(0, 10).sort());
  });

  it('no table and no log line holds a plaintext key, through a key’s whole life', async () => {
    const user = await newSession(ctx.app, 'lifecycle');
    const manager = (
      await createKey({ name: 'manager', scopes: ['tasks:read', 'keys:manage'] }, bearer(user.accessToken))
    ).json();
    const viaKey = (
      await createKey({ name: 'via key', scopes: ['tasks:read'] }, apiKeyHeader(manager.api_key))
    ).json();
    const rotate = (keyId: string, payload: object) =>
      call('POST', `/api-keys/${keyId}/rotate`, bearer(user.accessToken), payload).then((r) => r.json());
    const graced = await rotate(viaKey.key_id, { grace_seconds: 60 });
    const replaced = await rotate(manager.key_id, {});
    expect((await call('DELETE', `/api-keys/${graced.key_id}`, bearer(user.accessToken))).statusCode).toBe(
      204,
    );
    const keys: string[] = [user.apiKey, manager.api_key, viaKey.api_key, graced.api_key, replaced.api_key];
    expect(keys.every((key) => /^vcp_[0-9A-Za-z]{46}$/.test(key))).toBe(true);
    expect(new Set(keys).size).toBe(keys.length);
    // Each one presented (working, rotated away or revoked), and one in a URL, where it is refused.
    for (const key of keys) await call('GET', '/auth/api-key/validate', apiKeyHeader(key));
    await ctx.app.inject({ method: 'GET', url: `/api/v1/auth/me?api_key=${viaKey.api_key}` });

    const everything = (await dumpEveryTable(ctx.dataSource)) + logs.text;
    for (const key of keys) {
      expect(everything).not.toContain(key);
      expect(everything).not.toContain(key.slice(12)); // nor the secret part without the shown prefix
    }
  });
});
