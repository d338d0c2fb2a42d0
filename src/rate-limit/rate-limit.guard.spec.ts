import type { Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ThrottlerModuleOptions } from '@nestjs/throttler';
import { Registry } from 'prom-client';
import { testConfig } from '../../test/support/config';
import { FakeThrottleOverrides } from '../../test/support/fake-throttle-overrides';
import { FakeReply, fakeRequest, FakeRequestInit, httpContext } from '../../test/support/guard-context';
import { UNIT_RATE_LIMITS } from '../../test/support/rate-limit-env';
import type { Principal } from '../common/auth/principal';
import { NoRateLimit, RateLimitTier } from '../common/auth/rate-tier.decorator';
import { FakeClock } from '../common/clock/fake-clock';
import { AppException } from '../common/errors/app.exception';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { BoundedMemoryThrottlerStorage } from './bounded-memory.storage';
import { BURST_WINDOW_MS, MINUTE_WINDOW_MS, RateLimitGuard } from './rate-limit.guard';
import { RateLimitPolicy } from './rate-limit.policy';

// Tier limits (UNIT_RATE_LIMITS): general 60/min burst 4, node burst 5, agent burst 7, proof 15/min burst 2,
// auth 10/min burst 3.

class GeneralController {
  list() {}
  @RateLimitTier('auth') login() {}
  @NoRateLimit() probe() {}
}

@RateLimitTier('node')
class NodesController {
  heartbeat() {}
  @RateLimitTier('agent') claim() {}
  @RateLimitTier('proof') submitProof() {}
}

@NoRateLimit()
class HealthController {
  live() {}
}

const KEY_A = '00000000-0000-4000-8000-0000000000aa';
const KEY_B = '00000000-0000-4000-8000-0000000000bb';
const keyPrincipal = (keyId: string, rateLimitTier = 'general'): Principal => ({
  userId: '00000000-0000-4000-8000-000000000001',
  username: 'u',
  role: 'user',
  scopes: [],
  authMethod: 'api_key',
  keyId,
  rateLimitTier,
});

describe('RateLimitGuard', () => {
  const { config, cleanup } = testConfig(UNIT_RATE_LIMITS);
  afterAll(cleanup);
  let clock: FakeClock;
  let storage: BoundedMemoryThrottlerStorage;
  let overrides: FakeThrottleOverrides;
  let registry: Registry;
  let sut: RateLimitGuard;

  beforeEach(async () => {
    clock = new FakeClock(new Date('2026-03-01T12:00:00.000Z')); // the storage's windows follow it
    storage = new BoundedMemoryThrottlerStorage(1000, clock);
    overrides = new FakeThrottleOverrides();
    registry = new Registry();
    // The two windows as RateLimitModule registers them; the guard replaces their placeholder limits.
    const options: ThrottlerModuleOptions = {
      throttlers: [
        { name: 'burst', ttl: BURST_WINDOW_MS, limit: 1 },
        { name: 'minute', ttl: MINUTE_WINDOW_MS, limit: 1 },
      ],
      storage,
      setHeaders: false,
    };
    const policy = new RateLimitPolicy(config.rateLimit, overrides.asService());
    sut = new RateLimitGuard(options, storage, new Reflector(), policy, new VcpMetrics(registry));
    await sut.onModuleInit();
  });
  async function hit<T>(controller: Type<T>, handler: keyof T & string, init: FakeRequestInit = {}) {
    const reply = new FakeReply();
    const context = httpContext(controller, handler, fakeRequest(init), reply);
    try {
      await sut.canActivate(context);
      return { status: 200, message: '', headers: Object.fromEntries(reply.headers) };
    } catch (error) {
      if (!(error instanceof AppException)) throw error;
      expect(error.code).toBe('rate_limited');
      return {
        status: error.getStatus(),
        message: error.message,
        headers: Object.fromEntries(reply.headers),
      };
    }
  }

  async function statuses<T>(
    count: number,
    controller: Type<T>,
    handler: keyof T & string,
    init: FakeRequestInit = {},
  ): Promise<number[]> {
    const result: number[] = [];
    for (let i = 0; i < count; i++) result.push((await hit(controller, handler, init)).status);
    return result;
  }

  const rateLimitedTotal = async (tier: string) =>
    (await registry.getSingleMetric('rate_limited_total')!.get()).values.find((v) => v.labels.tier === tier)
      ?.value ?? 0;

  describe('tiers', () => {
    it('an undecorated route is general: the 5th request within a second is refused', async () => {
      expect(await statuses(4, GeneralController, 'list')).toEqual([200, 200, 200, 200]);
      const refused = await hit(GeneralController, 'list');
      expect(refused).toEqual({
        status: 429,
        message: 'Too many requests: at most 4 per second here; retry after 1 s',
        headers: {
          'Retry-After': '1',
          'X-RateLimit-Limit': '4',
          'X-RateLimit-Remaining': '0',
          'X-RateLimit-Reset': '1',
        },
      });
    });

    it("@RateLimitTier on a handler, else on its controller, picks the tier's limits", async () => {
      expect(await statuses(4, GeneralController, 'login')).toEqual([200, 200, 200, 429]); // auth: burst 3
      expect(await statuses(6, NodesController, 'heartbeat')).toEqual([200, 200, 200, 200, 200, 429]); // node: 5
      expect(await statuses(3, NodesController, 'submitProof')).toEqual([200, 200, 429]); // proof beats node
      expect(await statuses(8, NodesController, 'claim')).toEqual([...Array<number>(7).fill(200), 429]); // agent: 7
    });

    it('counts each refusal in rate_limited_total by tier', async () => {
      await statuses(5, NodesController, 'submitProof');
      expect(await rateLimitedTotal('proof')).toBe(3);
      expect(await rateLimitedTotal('node')).toBe(0);
    });
  });

  describe('windows', () => {
    it('the burst window ends after a second; the minute limit carries on, reported in headers', async () => {
      const remaining: string[] = [];
      for (let second = 0; second < 4; second++) {
        for (let i = 0; i < (second < 3 ? 3 : 1); i++) {
          const { status, headers } = await hit(GeneralController, 'login');
          expect(status).toBe(200);
          expect(headers['X-RateLimit-Limit']).toBe('10');
          remaining.push(headers['X-RateLimit-Remaining']);
        }
        clock.advance(BURST_WINDOW_MS);
      }
      expect(remaining).toEqual(['9', '8', '7', '6', '5', '4', '3', '2', '1', '0']);
      const refused = await hit(GeneralController, 'login');
      expect(refused.status).toBe(429);
      expect(refused.message).toBe('Too many requests: at most 10 per minute here; retry after 56 s');
      expect(refused.headers['Retry-After']).toBe('56');
      clock.advance(MINUTE_WINDOW_MS);
      expect((await hit(GeneralController, 'login')).status).toBe(200);
    });

    it('judges the count by the limit in force now: a raised limit applies at once', async () => {
      expect(await statuses(3, NodesController, 'submitProof')).toEqual([200, 200, 429]);
      overrides.set(`ip:203.0.113.7`, { burst: 10 });
      expect(await statuses(2, NodesController, 'submitProof')).toEqual([200, 200]);
    });
  });

  describe('buckets', () => {
    const proofRoute = (init: FakeRequestInit) => hit(NodesController, 'submitProof', init);

    it('are per route template: two ids of one route share a bucket', async () => {
      const route = '/v1/proofs/:id';
      await proofRoute({ route, url: '/v1/proofs/1' });
      await proofRoute({ route, url: '/v1/proofs/2' });
      expect((await proofRoute({ route, url: '/v1/proofs/3' })).status).toBe(429);
    });

    it('are separate per route and per method (negative control for the test above)', async () => {
      await statuses(2, NodesController, 'submitProof', { route: '/v1/a' });
      expect((await proofRoute({ route: '/v1/b' })).status).toBe(200);
      expect((await proofRoute({ route: '/v1/a', method: 'POST' })).status).toBe(200);
      expect((await proofRoute({ route: '/v1/a' })).status).toBe(429);
    });

    it('are per API key, not per user: two keys of one user count apart', async () => {
      await statuses(2, NodesController, 'submitProof', { user: keyPrincipal(KEY_A) });
      expect((await proofRoute({ user: keyPrincipal(KEY_B) })).status).toBe(200);
      expect((await proofRoute({ user: keyPrincipal(KEY_A) })).status).toBe(429);
    });

    it('are per IPv6 /64 for anonymous clients, and one for an IPv4 address in either notation', async () => {
      await statuses(2, NodesController, 'submitProof', { ip: '2001:db8:1:2::1' });
      expect((await proofRoute({ ip: '2001:db8:1:2:ffff::9' })).status).toBe(429);
      expect((await proofRoute({ ip: '2001:db8:1:3::1' })).status).toBe(200);
      await statuses(2, NodesController, 'submitProof', { ip: '192.0.2.44' });
      expect((await proofRoute({ ip: '::ffff:192.0.2.44' })).status).toBe(429);
    });
  });

  describe('exemptions', () => {
    it("an elevated key gets five times the tier's limits", async () => {
      const elevated = { user: keyPrincipal(KEY_A, 'elevated') };
      expect(await statuses(11, NodesController, 'submitProof', elevated)).toEqual([
        ...Array(10).fill(200),
        429,
      ]);
    });

    it('an unlimited override is never limited and never counted', async () => {
      overrides.set(`api_key:${KEY_A}`, { tier: 'unlimited' });
      const results = await statuses(30, NodesController, 'submitProof', { user: keyPrincipal(KEY_A) });
      expect(results.every((status) => status === 200)).toBe(true);
      expect(storage.size).toBe(0);
      // Negative control: the same requests from another key are limited.
      expect(await statuses(3, NodesController, 'submitProof', { user: keyPrincipal(KEY_B) })).toEqual([
        200, 200, 429,
      ]);
    });

    it('@NoRateLimit on a handler or a controller skips counting altogether', async () => {
      expect((await statuses(30, GeneralController, 'probe')).every((status) => status === 200)).toBe(true);
      expect((await statuses(30, HealthController, 'live')).every((status) => status === 200)).toBe(true);
      expect(storage.size).toBe(0);
    });

    it('only HTTP requests are limited', async () => {
      const context = httpContext(NodesController, 'submitProof', fakeRequest());
      context.setType('rpc');
      for (let i = 0; i < 5; i++) await expect(sut.canActivate(context)).resolves.toBe(true);
      expect(storage.size).toBe(0);
    });
  });

  it('resolves the policy once per request for both windows', async () => {
    await hit(GeneralController, 'list');
    expect(overrides.asked).toHaveLength(1);
  });
});
