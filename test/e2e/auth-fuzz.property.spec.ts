import fc from 'fast-check';
import { useAdminApp } from '../support/admin';
import { bearer, newSession, Session } from '../support/auth';
import { freshClientIp } from '../support/client-ip';
import { fuzzRuns } from '../support/fuzz';

/** A number literal written into the JSON text as is (JSON.stringify cannot write 1e999 or 2^70 exactly). */
class RawNumber {
  constructor(readonly text: string) {}
}

const HOSTILE_PIECES = [
  '\u0000',
  '\ud800',
  '\udfff',
  '\udfff\ud800',
  '\u0001',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u2028',
  '\u202e',
  '\r\n',
  '%00',
  "'; --",
  '"',
  '\\',
  '\ufeff',
  '𝒳',
  'vcp_',
  'rt_',
];

const hostileString = fc
  .array(
    fc.oneof(
      fc.constantFrom(...HOSTILE_PIECES),
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.constantFrom('alice', 'correct horse battery', 'tasks:read', '2030-01-01T00:00:00Z'),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''));

const hugeNumber = fc.oneof(
  fc.constantFrom(
    new RawNumber('1e999'),
    new RawNumber('-1e999'),
    new RawNumber('123456789012345678901234567890'),
    new RawNumber('1e-400'),
    new RawNumber('-0'),
    new RawNumber('9007199254740993'),
  ),
  fc.double(),
  fc.integer(),
);

const scalar = fc.oneof(hostileString, hugeNumber, fc.boolean(), fc.constant(null));
const hostileValue = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(hostileString, scalar, { maxKeys: 3 }) },
);

/** Each route's own field names (so validation is passed or failed field by field) plus stray keys. */
const bodyWith = (fields: string[]) =>
  fc
    .tuple(
      fc.record(Object.fromEntries(fields.map((f) => [f, hostileValue])), { requiredKeys: [] }),
      fc.dictionary(fc.oneof(hostileString, fc.constantFrom('__proto__', 'constructor')), hostileValue, {
        maxKeys: 2,
      }),
    )
    .map(([known, stray]) => ({ ...stray, ...known }));

/** Every UTF-8 byte as %XX (encodeURIComponent throws on a lone surrogate; Buffer writes U+FFFD for it). */
const percentEncoded = (text: string) =>
  [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');

function toJson(value: unknown): string {
  if (value instanceof RawNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

/**
 * Issue 13 row 10: hostile bodies (control characters, NUL, lone surrogates, huge numbers, wrong types, stray
 * keys) and hostile path ids on every identity route never produce a 5xx.
 */
describe('auth routes under fuzzed bodies (property)', () => {
  const ctx = useAdminApp({
    database: 'postgres',
    env: { RATE_LIMIT_AUTH_RPM: '100000', RATE_LIMIT_AUTH_BURST: '100000' },
  });
  let user: Session;
  // The PATCH fuzz may disable or demote whom it names: not `user`, whose token the later tests need.
  let target: Session;
  let keyId: string;

  beforeAll(async () => {
    user = await newSession(ctx.app, 'fuzz');
    target = await newSession(ctx.app, 'fuzztarget');
    const listed = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/api-keys',
      headers: bearer(user.accessToken),
    });
    keyId = listed.json<{ key_id: string }[]>()[0].key_id;
  });

  const routes: { method: 'POST' | 'PATCH'; url: () => string; fields: string[]; auth: () => object }[] = [
    {
      method: 'POST',
      url: () => '/auth/register',
      fields: ['username', 'password', 'email'],
      auth: () => ({}),
    },
    { method: 'POST', url: () => '/auth/login', fields: ['username', 'password'], auth: () => ({}) },
    { method: 'POST', url: () => '/auth/refresh', fields: ['refresh_token'], auth: () => ({}) },
    { method: 'POST', url: () => '/auth/logout', fields: ['refresh_token'], auth: () => ({}) },
    {
      method: 'POST',
      url: () => '/api-keys',
      fields: ['name', 'scopes', 'expires_at'],
      auth: () => bearer(user.accessToken),
    },
    {
      method: 'POST',
      url: () => `/api-keys/${keyId}/rotate`,
      fields: ['grace_seconds'],
      auth: () => bearer(ctx.admin.accessToken),
    },
    {
      method: 'PATCH',
      url: () => `/admin/users/${target.userId}`,
      fields: ['role', 'disabled'],
      auth: () => bearer(ctx.admin.accessToken),
    },
  ];

  it.each(routes.map((route) => [`${route.method} ${route.fields.join(',')}`, route] as const))(
    '%s never answers 5xx',
    async (_name, route) => {
      const statuses = new Set<number>();
      await fc.assert(
        fc.asyncProperty(bodyWith(route.fields), async (body) => {
          const res = await ctx.app.inject({
            method: route.method,
            url: `/api/v1${route.url()}`,
            headers: { 'content-type': 'application/json', ...route.auth() },
            payload: toJson(body),
            remoteAddress: freshClientIp(),
          });
          statuses.add(res.statusCode);
          // The failing body is in the message, so a shrunk counterexample can be replayed by hand.
          if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${toJson(body)}: ${res.body}`);
        }),
        fuzzRuns(150, 20261201),
      );
      // Control: the bodies reached the route's validation, not only a guard or the rate limit before it.
      expect(statuses).toContain(422);
      const turnedAway = Object.keys(route.auth()).length > 0 ? [401, 403, 429] : [429];
      expect([...statuses].filter((status) => turnedAway.includes(status))).toEqual([]);
    },
  );

  it('hostile key ids in the path never answer 5xx', async () => {
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(hostileString, fc.constantFrom('GET', 'DELETE', 'POST'), async (id, method) => {
        const res = await ctx.app.inject({
          method,
          url: `/api/v1/api-keys/${percentEncoded(id)}${method === 'POST' ? '/rotate' : ''}`,
          headers: bearer(user.accessToken),
          remoteAddress: freshClientIp(),
        });
        statuses.add(res.statusCode);
        expect(res.statusCode).toBeLessThan(500);
      }),
      fuzzRuns(150, 20261201),
    );
    // Control: the ids reached the route (an unknown key is a 404), not only the guard before it.
    expect(statuses).toContain(404);
    expect([...statuses].filter((status) => [401, 403, 429].includes(status))).toEqual([]);
  });
});
