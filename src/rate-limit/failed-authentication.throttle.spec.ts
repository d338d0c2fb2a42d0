import { Registry } from 'prom-client';
import { testConfig } from '../../test/support/config';
import { appErrorOf, fakeRequest } from '../../test/support/guard-context';
import { UNIT_RATE_LIMITS } from '../../test/support/rate-limit-env';
import { clientAddress } from '../common/auth/client-address';
import { FakeClock } from '../common/clock/fake-clock';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { BoundedMemoryThrottlerStorage } from './bounded-memory.storage';
import { AuthFailureThrottle } from './failed-authentication.throttle';
import { ResilientThrottlerStorage } from './resilient.storage';

describe('AuthFailureThrottle', () => {
  const { config, cleanup } = testConfig(UNIT_RATE_LIMITS); // the auth tier allows 10 per minute
  afterAll(cleanup);
  let clock: FakeClock;
  let registry: Registry;
  let sut: AuthFailureThrottle;

  beforeEach(() => {
    clock = new FakeClock();
    registry = new Registry();
    const storage = new ResilientThrottlerStorage(null, new BoundedMemoryThrottlerStorage(100, clock), clock);
    sut = new AuthFailureThrottle(storage, config.rateLimit, new VcpMetrics(registry));
  });

  const fail = (ip: string) => sut.recordFailure(clientAddress(fakeRequest({ ip })));

  it("allows the auth tier's per-minute count of failures from one client, then answers 429", async () => {
    for (let i = 0; i < 10; i++) await fail('198.51.100.1');
    expect(await appErrorOf(() => fail('198.51.100.1'))).toEqual({
      status: 429,
      code: 'rate_limited',
      message: 'Too many failed authentications; retry later',
    });
    const limited = (await registry.getSingleMetric('rate_limited_total')!.get()).values;
    expect(limited.filter((v) => v.value > 0)).toEqual([
      expect.objectContaining({ labels: { tier: 'auth' }, value: 1 }),
    ]);
  });

  it('counts per client: another address is not affected, an IPv6 /64 is one client', async () => {
    for (let i = 0; i < 10; i++) await fail(`2001:db8:0:7::${i + 1}`);
    await expect(fail('198.51.100.2')).resolves.toBeUndefined();
    await expect(fail('2001:db8:0:8::1')).resolves.toBeUndefined();
    expect(await appErrorOf(() => fail('2001:db8:0:7::ffff'))).toMatchObject({ status: 429 });
  });

  it('forgets failures after the minute', async () => {
    for (let i = 0; i < 10; i++) await fail('198.51.100.3');
    clock.advance(59_000);
    expect(await appErrorOf(() => fail('198.51.100.3'))).toMatchObject({ status: 429 }); // not before
    clock.advance(1_000);
    await expect(fail('198.51.100.3')).resolves.toBeUndefined();
  });
});
