import { testConfig } from '../../test/support/config';
import { appErrorOf, fakeRequest, httpContext } from '../../test/support/guard-context';
import { MetricsAccessGuard } from './metrics-access.guard';

class ScrapeController {
  metrics() {}
}

const TOKEN = 'scrape-9f8e7d6c5b4a39281706';

/** A guard built from the real config loader, so the env variables are read the way the app reads them. */
function guardFor(env: Record<string, string>): MetricsAccessGuard {
  const { config, cleanup } = testConfig(env);
  cleanup();
  return new MetricsAccessGuard(config.metrics);
}

const scrape = (sut: MetricsAccessGuard, ip: string, headers: Record<string, string> = {}) =>
  sut.canActivate(httpContext(ScrapeController, 'metrics', fakeRequest({ route: '/metrics', ip, headers })));

describe('MetricsAccessGuard', () => {
  it('is open when neither a token nor an allow-list is configured (production refuses to start so)', () => {
    expect(scrape(guardFor({}), '203.0.113.9')).toBe(true);
  });

  describe('METRICS_TOKEN', () => {
    const sut = guardFor({ METRICS_TOKEN: TOKEN });

    it('accepts the token as a bearer credential, the scheme in any case', () => {
      expect(scrape(sut, '203.0.113.9', { authorization: `Bearer ${TOKEN}` })).toBe(true);
      expect(scrape(sut, '203.0.113.9', { authorization: `bearer ${TOKEN}` })).toBe(true);
    });

    it.each([
      ['no header', undefined],
      ['another token', 'Bearer scrape-0000000000000000000000'],
      ['the token with a suffix', `Bearer ${TOKEN}x`],
      ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
      ['another scheme', `Basic ${TOKEN}`],
      ['the bare token', TOKEN],
      ['an empty bearer', 'Bearer '],
    ])('refuses %s with 401 unauthorized', async (_case, authorization) => {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      expect(await appErrorOf(() => scrape(sut, '203.0.113.9', headers))).toEqual({
        status: 401,
        code: 'unauthorized',
        message: 'A valid metrics bearer token is required',
      });
    });
  });

  describe('METRICS_ALLOWED_CIDRS', () => {
    const sut = guardFor({ METRICS_ALLOWED_CIDRS: '10.0.0.0/8, 192.0.2.5, fd00::/8' });

    it.each([
      ['inside an IPv4 range', '10.200.3.4'],
      ['the listed single address', '192.0.2.5'],
      ['an IPv4-mapped IPv6 view of an allowed address', '::ffff:10.0.0.1'],
      ['inside an IPv6 range', 'fd12:3456::1'],
    ])('allows %s', (_case, ip) => {
      expect(scrape(sut, ip)).toBe(true);
    });

    it.each([
      ['just outside the IPv4 range', '11.0.0.1'],
      ['a neighbour of the single address', '192.0.2.6'],
      ['an IPv6 address outside the range', 'fe80::1'],
      ['an IPv4-mapped address outside the ranges', '::ffff:11.0.0.1'],
      ['an address that does not parse', 'unknown'],
      ['an empty address', ''],
    ])('refuses %s with 403 forbidden', async (_case, ip) => {
      expect(await appErrorOf(() => scrape(sut, ip))).toEqual({
        status: 403,
        code: 'forbidden',
        message: 'This address may not read metrics',
      });
    });
  });

  describe('both', () => {
    const sut = guardFor({ METRICS_TOKEN: TOKEN, METRICS_ALLOWED_CIDRS: '10.0.0.0/8' });
    const withToken = { authorization: `Bearer ${TOKEN}` };

    it('need both the address and the token', async () => {
      expect(scrape(sut, '10.1.1.1', withToken)).toBe(true);
      expect(await appErrorOf(() => scrape(sut, '10.1.1.1'))).toMatchObject({ status: 401 });
      expect(await appErrorOf(() => scrape(sut, '172.16.0.1', withToken))).toMatchObject({ status: 403 });
    });

    it('answer an outside address 403 without judging its token', async () => {
      expect(await appErrorOf(() => scrape(sut, '172.16.0.1'))).toMatchObject({
        status: 403,
        code: 'forbidden',
      });
    });
  });
});
