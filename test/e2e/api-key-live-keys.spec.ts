import { LISTED_KEYS, MAX_LIVE_KEYS_PER_USER } from '../../src/api-keys/api-keys.service';
import { useTestApp } from '../support/app';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';

interface KeyView {
  key_id: string;
  api_key: string;
  name: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

/**
 * A key that still authenticates (not revoked, not expired; one in a rotation's grace period until the grace
 * ends) is live. Only live keys count toward the per-user cap, and the list always holds every live key.
 */
describeEachDatabase('live API keys on %s', (database) => {
  const ctx = useTestApp({ database });

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, owner: Session, payload?: object) =>
    ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: bearer(owner.accessToken),
      ...(payload ? { payload } : {}),
    });
  const create = (owner: Session, payload: object = {}) =>
    call('POST', '/api-keys', owner, { name: 'k', scopes: ['tasks:read'], ...payload });
  const rotate = (owner: Session, keyId: string, graceSeconds: number) =>
    call('POST', `/api-keys/${keyId}/rotate`, owner, { grace_seconds: graceSeconds });
  /** Moves expiry (a creation's `expires_at`, or a grace's end) into the past, by the database's clock. */
  const expire = (keyIds: string[]) =>
    ctx.dataSource.query(`UPDATE api_keys SET expires_at = now() - interval '1 ms' WHERE key_id = ANY($1)`, [
      keyIds,
    ]);
  const defaultKeyId = async (owner: Session): Promise<string> => {
    const [{ key_id }] = await ctx.dataSource.query<{ key_id: string }[]>(
      `SELECT key_id FROM api_keys WHERE user_id = $1 AND name = 'default'`,
      [owner.userId],
    );
    return key_id;
  };

  describe('the cap counts live keys only', () => {
    it('expired keys free their places; the cap still holds for the live ones', async () => {
      const owner = await newSession(ctx.app, 'expcap');
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      const expiring: string[] = [];
      for (let i = 1; i < MAX_LIVE_KEYS_PER_USER; i++) {
        const res = await create(owner, { expires_at: expiresAt });
        expect(res.statusCode).toBe(201);
        expiring.push(res.json<KeyView>().key_id);
      }
      expect((await create(owner)).statusCode).toBe(409); // the default key + 49

      await expire(expiring.slice(0, 2));
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await create(owner)).statusCode);
      expect(statuses).toEqual([201, 201, 409]);
      expect((await create(owner)).json()).toMatchObject({
        error: 'conflict',
        message: `At most ${MAX_LIVE_KEYS_PER_USER} live API keys per user`,
      });
    });

    it('a chain of grace rotations is capped while the graces last, and not once they have ended', async () => {
      const owner = await newSession(ctx.app, 'gracecap');
      let current = await defaultKeyId(owner);
      for (let i = 1; i < MAX_LIVE_KEYS_PER_USER; i++) {
        const res = await rotate(owner, current, 600);
        expect(res.statusCode).toBe(201);
        current = res.json<KeyView>().key_id;
      }
      // 49 keys in their grace period and their successor: 50 live keys.
      expect((await rotate(owner, current, 600)).statusCode).toBe(409);
      expect((await create(owner)).statusCode).toBe(409);

      const inGrace = await ctx.dataSource.query<{ key_id: string }[]>(
        `SELECT key_id FROM api_keys WHERE user_id = $1 AND replaced_by IS NOT NULL AND revoked_at IS NULL`,
        [owner.userId],
      );
      expect(inGrace).toHaveLength(MAX_LIVE_KEYS_PER_USER - 1);
      await expire(inGrace.map((row) => row.key_id)); // every grace has ended: one live key is left
      const next = await rotate(owner, current, 600);
      expect(next.statusCode).toBe(201);
      expect((await create(owner)).statusCode).toBe(201);
    });
  });

  describe('the list', () => {
    it('holds every live key, newest first, then the newest revoked or expired ones up to the cap', async () => {
      const owner = await newSession(ctx.app, 'keylist');
      const listed = async () => {
        const res = await call('GET', '/api-keys', owner);
        expect(res.statusCode).toBe(200);
        return res.json<KeyView[]>().map((key) => key.key_id);
      };
      const made = async (name: string, extra: object = {}) => {
        const res = await create(owner, { name, ...extra });
        expect(res.statusCode).toBe(201);
        return res.json<KeyView>().key_id;
      };
      const defaultKey = await defaultKeyId(owner);
      const lapsed = await made('lapsed');
      await expire([lapsed]);
      const gone = await made('gone');
      expect((await call('DELETE', `/api-keys/${gone}`, owner)).statusCode).toBe(204);
      const graced = await made('graced');
      const successor = (await rotate(owner, graced, 600)).json<KeyView>().key_id;
      const expiring = await made('expiring', { expires_at: new Date(Date.now() + 3_600_000).toISOString() });
      const live = [expiring, successor, graced, defaultKey];
      expect(await listed()).toEqual([...live, gone, lapsed]);

      // Newer than all of the above: 200 revoked keys, as many creations and deletions would leave.
      await ctx.dataSource.query(
        `INSERT INTO api_keys (user_id, key_hash, key_prefix, name, scopes, created_at, revoked_at, revoked_reason)
         SELECT $1, md5(gen_random_uuid()::text) || md5(gen_random_uuid()::text), 'vcp_GoneGone', 'bulk', '{tasks:read}',
                now() + i * interval '1 ms', now(), 'revoked'
           FROM generate_series(1, 200) AS i`,
        [owner.userId],
      );
      const bulk = await ctx.dataSource.query<{ key_id: string }[]>(
        `SELECT key_id FROM api_keys WHERE user_id = $1 AND name = 'bulk' ORDER BY created_at DESC`,
        [owner.userId],
      );
      expect(await listed()).toEqual([
        ...live,
        ...bulk.slice(0, LISTED_KEYS - live.length).map((row) => row.key_id),
      ]);
      // Each listed live key still works: the default key, for one.
      const validated = await ctx.app.inject({
        method: 'GET',
        url: '/api/v1/auth/api-key/validate',
        headers: apiKeyHeader(owner.apiKey),
      });
      expect(validated.json()).toMatchObject({ key_id: defaultKey });
    });
  });
});
