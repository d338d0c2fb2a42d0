import { MAX_LIVE_KEYS_PER_USER } from '../../src/api-keys/api-keys.service';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
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
 * ends) is live. Only live keys count toward the per-user cap.
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
});
