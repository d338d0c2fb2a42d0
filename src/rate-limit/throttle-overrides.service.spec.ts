import { AuditService } from '../audit/audit.service';
import { FakeClock } from '../common/clock/fake-clock';
import { DatabaseClock } from '../database/database-clock';
import { TransactionRunner } from '../database/transaction-runner';
import { ActiveOverrideRecord, ThrottleOverridesRepository } from './throttle-overrides.repository';
import { isStandardIp, OVERRIDES_REFRESH_MS, ThrottleOverridesService } from './throttle-overrides.service';

class FakeOverrides {
  reads = 0;
  rows: ActiveOverrideRecord[] = [];

  active(): Promise<ActiveOverrideRecord[]> {
    this.reads += 1;
    return Promise.resolve(this.rows);
  }
}

const override = (subjectId: string, expiresInMs: number): ActiveOverrideRecord => ({
  overrideId: '00000000-0000-4000-8000-000000000001',
  subjectType: 'ip',
  subjectId,
  tier: null,
  rpm: 5,
  burst: null,
  expiresAt: new Date(),
  createdBy: null,
  createdAt: new Date(),
  expiresInMs,
});

describe('ThrottleOverridesService.find', () => {
  let clock: FakeClock;
  let overrides: FakeOverrides;
  let sut: ThrottleOverridesService;

  beforeEach(() => {
    clock = new FakeClock();
    overrides = new FakeOverrides();
    sut = new ThrottleOverridesService(
      overrides as unknown as ThrottleOverridesRepository,
      {} as TransactionRunner,
      {} as AuditService,
      clock,
      {} as DatabaseClock,
    );
  });

  it('stops applying an override when the time the database gave it runs out, between refreshes too', async () => {
    overrides.rows = [override('203.0.113.7', 1500)];
    expect(await sut.find(['ip:203.0.113.7'])).toMatchObject({ rpm: 5 });
    clock.advance(1499);
    expect(await sut.find(['ip:203.0.113.7'])).toMatchObject({ rpm: 5 });
    clock.advance(1);
    expect(await sut.find(['ip:203.0.113.7'])).toBeNull();
    expect(overrides.reads).toBe(1); // judged on the snapshot: no read in between
  });

  it('re-reads the overrides once the refresh interval has passed, not before', async () => {
    expect(await sut.find(['ip:198.51.100.1'])).toBeNull();
    overrides.rows = [override('198.51.100.1', 60_000)];
    clock.advance(OVERRIDES_REFRESH_MS - 1);
    expect(await sut.find(['ip:198.51.100.1'])).toBeNull();
    clock.advance(1);
    expect(await sut.find(['ip:198.51.100.1'])).toMatchObject({ rpm: 5 });
    expect(overrides.reads).toBe(2);
  });

  it('applies an override made on another replica within the refresh interval when the snapshot read is slow', async () => {
    // The snapshot read sees no override; one is created at once after it, and the read's answer takes 500 ms.
    overrides.active = () => {
      overrides.reads += 1;
      const rows = overrides.rows;
      overrides.rows = [override('198.51.100.2', 60_000)];
      clock.advance(500);
      return Promise.resolve(rows);
    };
    expect(await sut.find(['ip:198.51.100.2'])).toBeNull();
    clock.advance(OVERRIDES_REFRESH_MS - 500);
    // 2 s after it was made (README: on every replica within 2 s): the snapshot is that old, so it is read again.
    expect(await sut.find(['ip:198.51.100.2'])).toMatchObject({ rpm: 5 });
  });
});

describe('isStandardIp', () => {
  it('takes dotted-quad decimal IPv4 and IPv6 text', () => {
    for (const address of ['127.0.0.1', '0.0.0.0', '255.255.255.255', '203.0.113.7', '::1', '2001:DB8::1'])
      expect([address, isStandardIp(address)]).toEqual([address, true]);
    expect(isStandardIp('::ffff:10.0.0.1')).toBe(true);
  });

  it('refuses the inet_aton forms an IP parser would read as another address, and zones', () => {
    const refused = ['0x7f.1', '0', '5', '127.1', '0x7f000001', '010.0.0.1', '127.000.0.1', '256.0.0.1'];
    for (const address of [...refused, '1.2.3.4 ', '::ffff:010.0.0.1', 'fe80::1%eth0', 'localhost', ''])
      expect([address, isStandardIp(address)]).toEqual([address, false]);
  });
});
