import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { generateApiKey } from '../../src/api-keys/api-key.format';
import { ResilientThrottlerStorage } from '../../src/rate-limit/resilient.storage';
import { useAdminApp } from '../support/admin';
import { bootApp } from '../support/app';
import { apiKeyHeader, bearer, newSession } from '../support/auth';
import { freshClientIp } from '../support/client-ip';
import { TEST_DEFAULTS, testConfig } from '../support/config';
import { createTestDatabase, REDIS_URL } from '../support/postgres';
import { scrape, valueOf } from '../support/prometheus';
import { RateLimitProbeModule } from '../support/rate-limit-probe.module';

const LIMIT = 5;
const STRICT = {
  ...TEST_DEFAULTS,
  RATE_LIMIT_GENERAL_RPM: String(LIMIT),
  RATE_LIMIT_GENERAL_BURST: String(LIMIT), // at most the per-minute limit (a start-up error above)
};
const hit = (
  app: NestFastifyApplication,
  remoteAddress: string,
  headers: Record<string, string> = {},
  path = 'a',
) => app.inject({ method: 'GET', url: `/api/v1/rate-probe-${path}/hit`, remoteAddress, headers });

describe('rate limiting', () => {
  describe('in memory, one instance', () => {
    const ctx = useAdminApp({
      env: {
        ...STRICT,
        RATE_LIMIT_AUTH_RPM: '20',
        RATE_LIMIT_AUTH_BURST: '20',
        TRUSTED_PROXY_CIDRS: '10.250.0.0/16',
      },
      extraModules: [RateLimitProbeModule],
    });

    it('answers 429 rate_limited with Retry-After and X-RateLimit-* headers', async () => {
      const ip = freshClientIp();
      const responses = [];
      for (let i = 0; i < LIMIT + 1; i++) responses.push(await hit(ctx.app, ip));
      expect(responses.map((r) => r.statusCode)).toEqual([...Array(LIMIT).fill(200), 429]);
      expect(responses[0].headers['x-ratelimit-limit']).toBe(String(LIMIT));
      expect(responses[0].headers['x-ratelimit-remaining']).toBe(String(LIMIT - 1));
      expect(Number(responses[0].headers['x-ratelimit-reset'])).toBeGreaterThan(0);
      const limited = responses[LIMIT];
      expect(limited.json()).toMatchObject({ error: 'rate_limited', request_id: expect.any(String) });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('counts 200 requests from an untrusted peer against one bucket, whatever X-Forwarded-For says', async () => {
      const peer = freshClientIp();
      const statuses = [];
      for (let i = 0; i < 200; i++)
        statuses.push((await hit(ctx.app, peer, { 'x-forwarded-for': freshClientIp() })).statusCode);
      expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    });

    it('behind a trusted proxy, counts the forwarded client (first untrusted hop from the right)', async () => {
      const proxy = '10.250.0.5';
      const [a, b] = [freshClientIp(), freshClientIp()];
      // A client-supplied leftmost entry is ignored: the right-most untrusted hop is the client.
      const via = (client: string) => ({ 'x-forwarded-for': `6.6.6.6, ${client}, 10.250.0.9` });
      const fromA = [];
      for (let i = 0; i < LIMIT + 2; i++) fromA.push((await hit(ctx.app, proxy, via(a))).statusCode);
      expect(fromA.filter((s) => s === 200)).toHaveLength(LIMIT);
      expect((await hit(ctx.app, proxy, via(b))).statusCode).toBe(200); // another client, another bucket
    });

    it('counts HEAD and GET of one route in one bucket', async () => {
      const ip = freshClientIp();
      const head = () =>
        ctx.app.inject({ method: 'HEAD', url: '/api/v1/rate-probe-a/hit', remoteAddress: ip });
      const statuses = [];
      for (let i = 0; i < LIMIT; i++)
        statuses.push((i % 2 === 0 ? await head() : await hit(ctx.app, ip)).statusCode);
      expect(statuses).toEqual(Array(LIMIT).fill(200));
      expect((await head()).statusCode).toBe(429);
      expect((await hit(ctx.app, ip)).statusCode).toBe(429);
    });

    it('treats an IPv4-mapped IPv6 peer as the same IPv4 client', async () => {
      const ip = freshClientIp();
      for (let i = 0; i < LIMIT; i++) await hit(ctx.app, ip);
      expect((await hit(ctx.app, `::ffff:${ip}`)).statusCode).toBe(429);
    });

    it('gives two controllers with the same class and method names separate buckets', async () => {
      const ip = freshClientIp();
      for (let i = 0; i < LIMIT; i++) await hit(ctx.app, ip, {}, 'a');
      expect((await hit(ctx.app, ip, {}, 'a')).statusCode).toBe(429);
      expect((await hit(ctx.app, ip, {}, 'b')).statusCode).toBe(200);
    });

    it('counts an API key’s requests against the key, and an admin override raises that key’s limit', async () => {
      const user = await newSession(ctx.app, 'rl');
      const mine = (key: string) =>
        ctx.app.inject({
          method: 'GET',
          url: '/api/v1/rate-probe-a/mine',
          headers: apiKeyHeader(key),
          remoteAddress: freshClientIp(),
        });
      const first = [];
      for (let i = 0; i < LIMIT + 1; i++) first.push((await mine(user.apiKey)).statusCode);
      expect(first).toEqual([...Array(LIMIT).fill(200), 429]); // different IPs, one key: one bucket

      const validate = await ctx.app.inject({
        method: 'GET',
        url: '/api/v1/auth/api-key/validate',
        headers: apiKeyHeader(user.apiKey),
      });
      const override = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/admin/throttle-overrides',
        headers: bearer(ctx.admin.accessToken),
        payload: {
          subject_type: 'api_key',
          subject_id: validate.json().key_id,
          rpm: 1000,
          burst: 1000, // else the tier's per-second burst (LIMIT) refuses the next LIMIT within the second
          expires_at: new Date(Date.now() + 60_000).toISOString(),
        },
      });
      expect(override.statusCode).toBe(201);
      const after = [];
      for (let i = 0; i < LIMIT; i++) after.push((await mine(user.apiKey)).statusCode);
      expect(after.every((s) => s === 200)).toBe(true);
      expect(
        (
          await ctx.app.inject({
            method: 'GET',
            url: '/api/v1/admin/throttle-overrides',
            headers: bearer(ctx.admin.accessToken),
          })
        ).json(),
      ).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ override_id: override.json().override_id, rpm: 1000 }),
        ]),
      );
      const forbidden = await ctx.app.inject({
        method: 'GET',
        url: '/api/v1/admin/throttle-overrides',
        headers: bearer(user.accessToken),
      });
      expect(forbidden.statusCode).toBe(403);
    });

    it('an unlimited override lifts every limit of its subject', async () => {
      const [free, other] = [freshClientIp(), freshClientIp()];
      const override = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/admin/throttle-overrides',
        headers: bearer(ctx.admin.accessToken),
        payload: {
          subject_type: 'ip',
          subject_id: free,
          tier: 'unlimited',
          expires_at: new Date(Date.now() + 60_000).toISOString(),
        },
      });
      expect(override.statusCode).toBe(201);
      const statuses = [];
      for (let i = 0; i < 3 * LIMIT; i++) statuses.push((await hit(ctx.app, free)).statusCode);
      expect(statuses.every((status) => status === 200)).toBe(true);
      // Negative control: another address still meets the general tier's limit.
      for (let i = 0; i < LIMIT; i++) await hit(ctx.app, other);
      expect((await hit(ctx.app, other)).statusCode).toBe(429);
    });

    it('throttles failed authentications per client IP (guessing keys is limited like guessing passwords)', async () => {
      const attacker = freshClientIp();
      const limitedBefore = valueOf((await scrape(ctx.app)).samples, 'rate_limited_total', { tier: 'auth' });
      const statuses: number[] = [];
      let last = undefined as unknown as Awaited<ReturnType<NestFastifyApplication['inject']>>;
      for (let i = 0; i < 22; i++) {
        const res = (last = await ctx.app.inject({
          method: 'GET',
          url: '/api/v1/rate-probe-a/mine',
          remoteAddress: attacker,
          headers: apiKeyHeader(generateApiKey()),
        }));
        statuses.push(res.statusCode);
      }
      expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(20)).toEqual([429, 429]);
      expect(Number(last.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(last.headers['retry-after'])).toBeLessThanOrEqual(60);
      const limitedAfter = valueOf((await scrape(ctx.app)).samples, 'rate_limited_total', { tier: 'auth' });
      expect(limitedAfter - limitedBefore).toBe(2);
      // Another address is unaffected.
      const other = await ctx.app.inject({
        method: 'GET',
        url: '/api/v1/rate-probe-a/mine',
        remoteAddress: freshClientIp(),
      });
      expect(other.statusCode).toBe(401);
    });

    it('never throttles health checks', async () => {
      const ip = freshClientIp();
      for (let i = 0; i < LIMIT * 3; i++) {
        expect(
          (await ctx.app.inject({ method: 'GET', url: '/api/v1/health', remoteAddress: ip })).statusCode,
        ).toBe(200);
      }
    });
  });

  describe('two instances on one Redis', () => {
    it('of two deployments (two databases) count apart: their keys carry the deployment', async () => {
      const [dbA, dbB] = [await createTestDatabase(), await createTestDatabase()];
      const envA = testConfig({ ...STRICT, DATABASE_URL: dbA.url, REDIS_URL });
      const envB = testConfig({ ...STRICT, DATABASE_URL: dbB.url, REDIS_URL });
      const a = await bootApp(envA.config, { extraModules: [RateLimitProbeModule] });
      const b = await bootApp(envB.config, { extraModules: [RateLimitProbeModule] });
      try {
        const ip = freshClientIp();
        for (let i = 0; i < LIMIT; i++) expect((await hit(a, ip)).statusCode).toBe(200);
        expect((await hit(a, ip)).statusCode).toBe(429);
        expect((await hit(b, ip)).statusCode).toBe(200); // the same client, another deployment
        expect([a, b].map((app) => app.get(ResilientThrottlerStorage).mode)).toEqual(['redis', 'redis']);
      } finally {
        await a.close();
        await b.close();
        await Promise.all([dbA.drop(), dbB.drop()]);
        envA.cleanup();
        envB.cleanup();
      }
    });

    it(`allow exactly L of 3L concurrent requests spread over both`, async () => {
      const db = await createTestDatabase();
      const envA = testConfig({ ...STRICT, DATABASE_URL: db.url, REDIS_URL });
      const envB = testConfig({ ...STRICT, DATABASE_URL: db.url, REDIS_URL });
      const a = await bootApp(envA.config, { extraModules: [RateLimitProbeModule] });
      const b = await bootApp(envB.config, { extraModules: [RateLimitProbeModule] });
      try {
        const ip = freshClientIp();
        const responses = await Promise.all(
          Array.from({ length: 3 * LIMIT }, (_, i) => hit(i % 2 === 0 ? a : b, ip)),
        );
        const statuses = responses.map((r) => r.statusCode);
        expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
        expect(statuses.filter((s) => s === 429)).toHaveLength(2 * LIMIT);
        expect(a.get(ResilientThrottlerStorage).mode).toBe('redis');
      } finally {
        await a.close();
        await b.close();
        await db.drop();
        envA.cleanup();
        envB.cleanup();
      }
    });
  });
});
