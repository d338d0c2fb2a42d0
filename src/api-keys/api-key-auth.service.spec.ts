import type { AuditService } from '../audit/audit.service';
import { FakeClock } from '../common/clock/fake-clock';
import { keyedHash } from '../common/crypto/keyed-hash';
import type { VcpMetrics } from '../metrics/vcp-metrics';
import { generateApiKey } from './api-key.format';
import { ApiKeyAuthService } from './api-key-auth.service';
import { ApiKeysConfig } from './api-keys.config';
import type { ApiKeysRepository, KeyCredential } from './api-keys.repository';

const PEPPER = 'p'.repeat(48);

/** A live user key's row, as the repository returns it. */
const credentialOf = (username: string): KeyCredential => ({
  keyId: '00000000-0000-4000-8000-000000000001',
  scopes: ['tasks:read'],
  rateLimitTier: 'general',
  revoked: false,
  expiresInMs: null,
  expiresAt: null,
  replacedBy: null,
  userId: '00000000-0000-4000-8000-000000000002',
  username,
  role: 'user',
  ownerDisabled: false,
  nodeId: null,
});

describe('ApiKeyAuthService', () => {
  it('does not keep a lookup that was in flight when the key was revoked on this replica', async () => {
    const key = generateApiKey();
    const credential = credentialOf('alice');
    // A request's lookup, read before the revocation and answered after it; later lookups read the row as it is.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const findCredential = jest
      .fn<Promise<KeyCredential | null>, [string]>()
      .mockImplementationOnce(async (hash) => {
        const read = hash === keyedHash(key, PEPPER) ? { ...credential } : null;
        await gate;
        return read;
      })
      .mockImplementation((hash) =>
        Promise.resolve(hash === keyedHash(key, PEPPER) ? { ...credential } : null),
      );
    const auth = new ApiKeyAuthService(
      { findCredential, touchLastUsed: () => Promise.resolve() } as unknown as ApiKeysRepository,
      new ApiKeysConfig({ pepper: PEPPER }),
      {} as AuditService,
      {} as VcpMetrics,
      new FakeClock(),
    );

    const inFlight = auth.authenticate(key);
    credential.revoked = true;
    auth.forget(credential.keyId);
    release();
    expect((await inFlight).ok).toBe(true); // that request began before the revocation
    // Every later request on this replica is refused at once, not after the cache's 2 s.
    expect(await auth.authenticate(key)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('keeps a key in use cached through a flood of unknown keys (one lookup, not one per 10 000 others)', async () => {
    const key = generateApiKey();
    const hash = keyedHash(key, PEPPER);
    const credential = credentialOf('bob');
    let lookupsOfKey = 0;
    const findCredential = (candidate: string): Promise<KeyCredential | null> => {
      if (candidate !== hash) return Promise.resolve(null);
      lookupsOfKey += 1;
      return Promise.resolve({ ...credential });
    };
    const auth = new ApiKeyAuthService(
      { findCredential, touchLastUsed: () => Promise.resolve() } as unknown as ApiKeysRepository,
      new ApiKeysConfig({ pepper: PEPPER }),
      {} as AuditService,
      {} as VcpMetrics,
      new FakeClock(), // the clock stands still: nothing expires from the cache by time
    );

    expect((await auth.authenticate(key)).ok).toBe(true);
    for (let i = 0; i < 12_000; i++) {
      expect(await auth.authenticate(generateApiKey())).toMatchObject({ ok: false, reason: 'unknown' });
      if (i % 100 === 0) expect((await auth.authenticate(key)).ok).toBe(true);
    }
    // A cache emptied when full would have looked the key up again after each 10 000 others.
    expect(lookupsOfKey).toBe(1);
  });
});
