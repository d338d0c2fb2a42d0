import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import { WakeUpTransport } from '../../src/wake-ups/wake-up-transport';
import { Session } from '../support/auth';
import { createTestEnv, TestEnv } from '../support/databases';
import { eventually } from '../support/eventually';
import { REDIS_URL } from '../support/postgres';
import {
  bootReplicas,
  listenerPids as listenerPidsOf,
  ONLY_WAKE_UPS,
  Replicas,
  wokenAcrossReplicas as wokenAcrossReplicasOf,
} from '../support/wake-ups';

/**
 * Wake-ups between replicas: two app instances on one PostgreSQL database, a long-polling claim on replica B
 * and a submission on replica A. The fallback poll is 30 s and the claim waits 25 s, so the claim can only
 * come back with the run (within the test's timeout) if A's wake-up reached B.
 * Both apps share one config (same secrets and database): passport's strategies are process-global, and the
 * second app's strategies then authenticate the first app's callers against the same data.
 */
/** A database index the test Redis server does not have: Redis is then set aside, and wake-ups move to PostgreSQL. */
const REFUSED_INDEX = Object.assign(new URL(REDIS_URL), { pathname: '/99' }).toString();

describe.each([
  ['LISTEN/NOTIFY', 'postgres', {}],
  ['Redis pub/sub', 'redis', { REDIS_URL }],
  ['LISTEN/NOTIFY once Redis refused its database index', 'postgres', { REDIS_URL: REFUSED_INDEX }],
] as const)('wake-ups between replicas over %s', (_name, kind, extraEnv) => {
  let env: TestEnv;
  let a: NestFastifyApplication;
  let b: NestFastifyApplication;
  let alice: Session;
  let replicas: Replicas | undefined;

  beforeAll(async () => {
    env = await createTestEnv('postgres', { ...ONLY_WAKE_UPS, ...extraEnv });
    replicas = await bootReplicas(env.config);
    ({ a, b, alice } = replicas);
  });

  afterAll(async () => {
    await replicas?.close();
    await env?.dispose();
  });

  const listenerPids = () => listenerPidsOf(env.db!.name);

  const wokenAcrossReplicas = () => wokenAcrossReplicasOf(a, b, alice);

  it('uses the transport it should', async () => {
    const refused = (extraEnv as { REDIS_URL?: string }).REDIS_URL === REFUSED_INDEX;
    // Eventually: a replica moves to PostgreSQL after the refusal, which comes with Redis's first answer.
    await eventually(async () => {
      if (refused) {
        const ready = await b.inject({ method: 'GET', url: '/api/v1/health/ready' });
        expect(ready.json().checks.redis).toMatchObject({ status: 'degraded' });
      }
      expect([a, b].map((app) => app.get(WakeUpTransport).kind)).toEqual([kind, kind]);
      // One LISTEN connection per replica on PostgreSQL, none when Redis carries the wake-ups.
      expect(await listenerPids()).toHaveLength(kind === 'postgres' ? 2 : 0);
    });
  });

  it('a long-polling claim on replica B is woken by a submission on replica A', wokenAcrossReplicas, 20_000);

  if (kind === 'postgres') {
    it('a LISTEN connection that drops is replaced, and wake-ups resume', async () => {
      const old = await listenerPids();
      expect(old).toHaveLength(2);
      await a.get(DataSource).query(`SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid`, [old]);
      await eventually(
        async () => {
          const now = await listenerPids();
          expect(now).toHaveLength(2);
          expect(now.filter((pid) => old.includes(pid))).toEqual([]);
        },
        { timeoutMs: 15_000 },
      );
      await wokenAcrossReplicas();
    }, 30_000);
  }
});
