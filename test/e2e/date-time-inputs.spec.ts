import { isDateTime } from '../../src/common/validation/date-time';
import { AdminSession, useAdminApp } from '../support/admin';
import { bearer, newSession, Session } from '../support/auth';
import { heartbeat, RegisteredNode, registerNode } from '../support/nodes';
import { expect422 } from '../support/validation';

const UUID = '00000000-0000-0000-0000-000000000000';
const SHA = 'a'.repeat(64);
/** Times Date.parse reads but `::timestamptz` refuses: each was a 500 in a forged cursor. */
const FORGED_TIMES = ['2026', '1', '+275760-09-13T00:00:00.000Z'];
/** Strings that pass IsISO8601({ strict: true }) but are no date-time: a 500, a misleading 422 or a guess. */
const NOT_DATE_TIMES = ['2026', '2026-12', '2026-W01', '2026-W01-1', '20260101'];
const DATE_TIME_MESSAGE = (field: string) =>
  `${field} must be an RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z`;

const cursor = (t: string, id: string) => Buffer.from(JSON.stringify({ t, id })).toString('base64url');

/** Forged cursors and date-times answer 422 `validation_error` on every route that reads them, never a 500. */
describe('time inputs: cursors and date-time fields', () => {
  const ctx = useAdminApp();
  let admin: AdminSession;
  let user: Session;
  let node: RegisteredNode;

  beforeAll(async () => {
    admin = ctx.admin;
    user = await newSession(ctx.app, 'times');
    node = await registerNode(ctx.app, bearer(user.accessToken));
    expect((await heartbeat(ctx.app, node.node_id, bearer(user.accessToken))).statusCode).toBe(200);
  });

  const get = (url: string, session: { accessToken: string } = admin) =>
    ctx.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: bearer(session.accessToken) });
  const post = (url: string, payload: object) =>
    ctx.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: bearer(admin.accessToken), payload });

  const pagedLists = (): [string, string, { accessToken: string }][] => [
    ['/tasks', UUID, user],
    ['/nodes', UUID, user],
    [`/nodes/${node.node_id}/heartbeats`, UUID, user],
    ['/modules', SHA, user],
    ['/circuits', SHA, user],
    ['/admin/users', UUID, admin],
    ['/admin/audit-log', UUID, admin],
  ];

  it('refuses a cursor with a forged time on every cursor-paged list', async () => {
    for (const [list, id, session] of pagedLists()) {
      for (const t of FORGED_TIMES) {
        const res = await get(`${list}?cursor=${cursor(t, id)}`, session);
        expect({ list, t, details: expect422(res, 'cursor') }).toEqual({
          list,
          t,
          details: [{ field: 'cursor', message: 'cursor is not a valid cursor' }],
        });
      }
    }
  });

  it('still pages with a cursor in the form the server writes', async () => {
    for (const [list, id, session] of pagedLists()) {
      const res = await get(`${list}?cursor=${cursor(new Date().toISOString(), id)}`, session);
      expect({ list, status: res.statusCode }).toEqual({ list, status: 200 });
    }
  });

  it('refuses a heartbeat-history `since` that is no date-time, and filters by a valid one', async () => {
    const history = `/nodes/${node.node_id}/heartbeats`;
    for (const since of NOT_DATE_TIMES) {
      expect(expect422(await get(`${history}?since=${since}`, user), 'since')).toEqual([
        { field: 'since', message: DATE_TIME_MESSAGE('since') },
      ]);
    }
    const items = async (since: string) =>
      (await get(`${history}?since=${encodeURIComponent(since)}`, user)).json<{ items: unknown[] }>().items;
    expect(await items(new Date(Date.now() - 3_600_000).toISOString())).toHaveLength(1);
    expect(await items('9999-12-31T23:59:59+15:59')).toEqual([]);
  });

  it('refuses audit-log `from` and `to` that are no date-time, and filters by valid ones', async () => {
    for (const field of ['from', 'to']) {
      for (const value of NOT_DATE_TIMES) {
        expect(expect422(await get(`/admin/audit-log?${field}=${value}`), field)).toEqual([
          { field, message: DATE_TIME_MESSAGE(field) },
        ]);
      }
    }
    const count = async (query: string) =>
      (await get(`/admin/audit-log?action=auth.register&${query}`)).json<{ items: unknown[] }>().items.length;
    expect(await count(`from=${encodeURIComponent('2000-01-01T01:00:00+01:00')}`)).toBeGreaterThan(0);
    expect(await count('to=2000-01-01T00:00:00.000000001Z')).toBe(0);
  });

  it('refuses an `expires_at` that is no date-time as such, not as "must be in the future"', async () => {
    const creations = (expires_at: string): [string, object][] => [
      ['/api-keys', { name: 'times', scopes: ['tasks:read'], expires_at }],
      ['/admin/throttle-overrides', { subject_type: 'ip', subject_id: '203.0.113.9', rpm: 10, expires_at }],
    ];
    for (const value of NOT_DATE_TIMES) {
      for (const [route, body] of creations(value)) {
        expect({ route, value, details: expect422(await post(route, body), 'expires_at') }).toEqual({
          route,
          value,
          details: [{ field: 'expires_at', message: DATE_TIME_MESSAGE('expires_at') }],
        });
      }
    }
    for (const [route, body] of creations('2000-01-01T00:00:00Z')) {
      expect(expect422(await post(route, body), 'expires_at')).toEqual([
        { field: 'expires_at', message: 'expires_at must be in the future' },
      ]);
    }
    for (const [route, body] of creations('2999-12-01T00:00:00+02:00')) {
      const res = await post(route, body);
      expect({ route, status: res.statusCode }).toEqual({ route, status: 201 });
      expect(new Date(res.json<{ expires_at: string }>().expires_at).toISOString()).toBe(
        '2999-11-30T22:00:00.000Z',
      );
    }
  });

  it('agrees with PostgreSQL at the edges: same time when accepted, refused when PostgreSQL refuses', async () => {
    const readByPostgres = async (value: string): Promise<number | null> => {
      try {
        const [{ ms }] = await ctx.dataSource.query<{ ms: string }[]>(
          `SELECT floor(extract(epoch FROM $1::timestamptz) * 1000)::text AS ms`,
          [value],
        );
        return Number(ms);
      } catch {
        return null;
      }
    };
    const accepted = [
      '0001-01-01T00:00:00+01:00',
      '9999-12-31T23:59:59-15:59',
      '2024-02-29T12:00:00+15:59',
      '2026-12-01T23:59:59.123456789Z',
    ];
    for (const value of accepted) {
      expect({ value, valid: isDateTime(value), ms: await readByPostgres(value) }).toEqual({
        value,
        valid: true,
        ms: Date.parse(value),
      });
    }
    const refusedByPostgres = [
      '0000-12-31T23:59:59Z',
      '2026-02-29T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-12-01T00:00:00+16:00',
      '2026-12-01T00:00:00-23:59',
    ];
    for (const value of refusedByPostgres) {
      expect({ value, valid: isDateTime(value), ms: await readByPostgres(value) }).toEqual({
        value,
        valid: false,
        ms: null,
      });
    }
  });
});
