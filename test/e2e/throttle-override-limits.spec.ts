import { useAdminApp } from '../support/admin';
import { bearer } from '../support/auth';
import { freshClientIp } from '../support/client-ip';
import { expect422 } from '../support/validation';

/** An override's per-second burst above its per-minute limit could never apply: refused, as in the config. */
describe('throttle override limits', () => {
  const ctx = useAdminApp({ database: 'pglite' });

  const create = (limits: { rpm?: number | null; burst?: number | null; tier?: string | null }) =>
    ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/throttle-overrides',
      headers: bearer(ctx.admin.accessToken),
      payload: {
        subject_type: 'ip',
        subject_id: freshClientIp(),
        ...limits,
        expires_at: new Date(Date.now() + 60_000).toISOString(),
      },
    });

  it('refuses a burst above the rpm given with it: 422 validation_error naming burst and its bound', async () => {
    const res = await create({ rpm: 10, burst: 11 });
    expect422(res, 'burst');
    expect(res.json().details).toEqual([
      {
        field: 'burst',
        message: 'burst must be at most rpm: a per-second burst above the per-minute limit never applies',
      },
    ]);
  });

  it('takes a burst up to the rpm, and either one alone (the other stays the tier’s)', async () => {
    const answers = [
      await create({ rpm: 10, burst: 10 }),
      await create({ burst: 500 }),
      await create({ rpm: 1 }),
    ];
    expect(answers.map((res) => res.statusCode)).toEqual([201, 201, 201]);
    expect(answers.map((res) => [res.json().rpm, res.json().burst])).toEqual([
      [10, 10],
      [null, 500],
      [1, null],
    ]);
  });

  it('an optional field sent as null is left out (generated clients send one for each), never a 500', async () => {
    const tiered = await create({ tier: 'elevated', rpm: null, burst: null });
    expect(tiered.statusCode).toBe(201);
    expect(tiered.json()).toMatchObject({ tier: 'elevated', rpm: null, burst: null });
    const burstOnly = await create({ tier: null, rpm: null, burst: 5 });
    expect(burstOnly.statusCode).toBe(201);
    expect(burstOnly.json()).toMatchObject({ tier: null, rpm: null, burst: 5 });
    const nothing = await create({ tier: null, rpm: null, burst: null });
    expect422(nothing, 'tier');
    expect(nothing.json().details).toEqual([{ field: 'tier', message: 'give a tier, rpm or burst' }]);
  });
});
