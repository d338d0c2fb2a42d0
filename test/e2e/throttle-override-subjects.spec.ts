import { useAdminApp } from '../support/admin';
import { bearer } from '../support/auth';

/** An IP override names the address the admin wrote: no other spelling is read as some address. */
describe('throttle override IP subjects', () => {
  const ctx = useAdminApp();

  const create = (subject_id: string) =>
    ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/throttle-overrides',
      headers: bearer(ctx.admin.accessToken),
      payload: {
        subject_type: 'ip',
        subject_id,
        rpm: 5,
        expires_at: new Date(Date.now() + 60_000).toISOString(),
      },
    });
  const listed = async () =>
    (
      await ctx.app.inject({
        method: 'GET',
        url: '/api/v1/admin/throttle-overrides',
        headers: bearer(ctx.admin.accessToken),
      })
    )
      .json<{ subject_id: string }[]>()
      .map((override) => override.subject_id);

  it('inet_aton forms (hex, short, octal), leading zeros and zones are a 422 naming subject_id', async () => {
    for (const subject of [
      '0x7f.1',
      '0',
      '5',
      '127.1',
      '0x7f000001',
      '010.0.0.1',
      '127.000.0.1',
      'fe80::1%eth0',
    ]) {
      const res = await create(subject);
      expect([subject, res.statusCode, res.json()]).toEqual([
        subject,
        422,
        expect.objectContaining({
          error: 'validation_error',
          details: [{ field: 'subject_id', message: expect.stringContaining('dotted-quad decimal') }],
        }),
      ]);
    }
    expect(await listed()).toEqual([]);
  });

  it('dotted-quad IPv4 and IPv6 text are taken, stored as the subject the throttler counts', async () => {
    const answers = await Promise.all(['203.0.113.7', '::ffff:198.51.100.77', '2001:DB8::1'].map(create));
    expect(answers.map((res) => res.statusCode)).toEqual([201, 201, 201]);
    // IPv6 clients are counted per /64, so an IPv6 override is its address's /64.
    expect((await listed()).sort()).toEqual(['198.51.100.77', '2001:db8::/64', '203.0.113.7']);
    expect((await create('2001:db8::ffff')).json()).toMatchObject({ reason: 'throttle_override_exists' });
  });

  it('an IPv6 override applies to the clients of its /64', async () => {
    expect((await create('2001:db8:5::1')).statusCode).toBe(201); // rpm 5
    // A public, rate-limited route: the client's address is its subject.
    const login = (remoteAddress: string) =>
      ctx.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: {}, remoteAddress });
    const limits = async (remoteAddress: string) => (await login(remoteAddress)).headers['x-ratelimit-limit'];
    expect(await limits('2001:db8:5::abcd')).toBe('5');
    // Negative control: another /64 keeps the tier's limit.
    expect(await limits('2001:db8:6::abcd')).not.toBe('5');
  });
});
