import { testConfig } from '../../test/support/config';
import { FakeThrottleOverrides } from '../../test/support/fake-throttle-overrides';
import { UNIT_RATE_LIMITS } from '../../test/support/rate-limit-env';
import type { Principal } from '../common/auth/principal';
import { RateLimitPolicy } from './rate-limit.policy';

const USER_ID = '00000000-0000-4000-8000-000000000001';
const KEY_ID = '00000000-0000-4000-8000-0000000000aa';
const IP = '198.51.100.20';

const jwtUser: Principal = { userId: USER_ID, username: 'u', role: 'user', scopes: [], authMethod: 'jwt' };
const keyOf = (rateLimitTier: string): Principal => ({
  ...jwtUser,
  authMethod: 'api_key',
  keyId: KEY_ID,
  rateLimitTier,
});

describe('RateLimitPolicy', () => {
  const { config, cleanup } = testConfig(UNIT_RATE_LIMITS);
  afterAll(cleanup);
  let overrides: FakeThrottleOverrides;
  let sut: RateLimitPolicy;

  beforeEach(() => {
    overrides = new FakeThrottleOverrides();
    sut = new RateLimitPolicy(config.rateLimit, overrides.asService());
  });

  describe('whom a request counts against', () => {
    it('an API key, else the user, else the client address', async () => {
      expect((await sut.resolve('general', keyOf('general'), IP))?.subject).toBe(`api_key:${KEY_ID}`);
      expect((await sut.resolve('general', jwtUser, IP))?.subject).toBe(`user:${USER_ID}`);
      expect((await sut.resolve('general', undefined, IP))?.subject).toBe(`ip:${IP}`);
    });

    it('looks overrides up from the most to the least specific subject', async () => {
      await sut.resolve('general', keyOf('general'), IP);
      await sut.resolve('general', jwtUser, IP);
      await sut.resolve('general', undefined, IP);
      expect(overrides.asked).toEqual([
        [`api_key:${KEY_ID}`, `user:${USER_ID}`, `ip:${IP}`],
        [`user:${USER_ID}`, `ip:${IP}`],
        [`ip:${IP}`],
      ]);
    });
  });

  describe('limits', () => {
    it("are the route tier's", async () => {
      expect(await sut.resolve('auth', undefined, IP)).toEqual({ subject: `ip:${IP}`, rpm: 10, burst: 3 });
      expect(await sut.resolve('proof', jwtUser, IP)).toMatchObject({ rpm: 15, burst: 2 });
      expect(await sut.resolve('general', jwtUser, IP)).toMatchObject({ rpm: 60, burst: 4 });
    });

    it("scaled by the key's tier: elevated ×5, general and unknown tiers ×1", async () => {
      expect(await sut.resolve('auth', keyOf('elevated'), IP)).toMatchObject({ rpm: 50, burst: 15 });
      expect(await sut.resolve('auth', keyOf('general'), IP)).toMatchObject({ rpm: 10, burst: 3 });
      expect(await sut.resolve('auth', keyOf('platinum'), IP)).toMatchObject({ rpm: 10, burst: 3 });
    });

    it('none for an unlimited key', async () => {
      expect(await sut.resolve('auth', keyOf('unlimited'), IP)).toBeNull();
    });
  });

  describe('admin overrides', () => {
    it('replace rpm and burst individually; the other comes from the tiers', async () => {
      overrides.set(`user:${USER_ID}`, { rpm: 7 });
      expect(await sut.resolve('auth', keyOf('elevated'), IP)).toEqual({
        subject: `api_key:${KEY_ID}`,
        rpm: 7,
        burst: 15,
      });
      overrides.set(`user:${USER_ID}`, { burst: 1 });
      expect(await sut.resolve('auth', keyOf('elevated'), IP)).toMatchObject({ rpm: 50, burst: 1 });
    });

    it("a tier override replaces the key's own tier, in both directions", async () => {
      overrides.set(`api_key:${KEY_ID}`, { tier: 'general' });
      expect(await sut.resolve('auth', keyOf('elevated'), IP)).toMatchObject({ rpm: 10, burst: 3 });
      overrides.set(`api_key:${KEY_ID}`, { tier: 'elevated' });
      expect(await sut.resolve('auth', keyOf('general'), IP)).toMatchObject({ rpm: 50, burst: 15 });
    });

    it('unlimited lifts every limit, even for an anonymous address', async () => {
      overrides.set(`ip:${IP}`, { tier: 'unlimited' });
      expect(await sut.resolve('auth', undefined, IP)).toBeNull();
      // Negative control: another address keeps its limits.
      expect(await sut.resolve('auth', undefined, '198.51.100.21')).toMatchObject({ rpm: 10 });
    });

    it('the most specific override wins: key over user over address', async () => {
      overrides.set(`ip:${IP}`, { rpm: 3 });
      overrides.set(`user:${USER_ID}`, { rpm: 2 });
      overrides.set(`api_key:${KEY_ID}`, { rpm: 1 });
      expect((await sut.resolve('general', keyOf('general'), IP))?.rpm).toBe(1);
      expect((await sut.resolve('general', jwtUser, IP))?.rpm).toBe(2);
      expect((await sut.resolve('general', undefined, IP))?.rpm).toBe(3);
    });
  });
});
