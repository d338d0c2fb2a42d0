import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '../../src/config/app-config';
import { Client } from 'pg';
import { ClaimService } from '../../src/scheduling/claim.service';
import { LISTENER_APPLICATION_NAME } from '../../src/wake-ups/postgres-wake-ups';
import { TestAgent } from './agent';
import { bootApp } from './app';
import { bearer, newSession, Session } from './auth';
import { eventually } from './eventually';
import { ADMIN_URL } from './postgres';
import { submitTask } from './tasks';

/**
 * An agent of replica `b` waits in a long poll; a submission on replica `a` must wake it with that task, within
 * 10 s: the claim waits 25 s and looks once more at its end, so its answer alone would not tell a wake-up from
 * that last look.
 */
export async function wokenAcrossReplicas(
  a: NestFastifyApplication,
  b: NestFastifyApplication,
  user: Session,
): Promise<void> {
  const agent = await TestAgent.register(b, bearer(user.accessToken));
  const claims = b.get(ClaimService);
  const before = claims.waiting;
  const waiting = agent.claimRaw({ max: 1, wait_ms: 25_000 });
  await eventually(() => expect(claims.waiting).toBe(before + 1));
  const task = await submitTask(a, bearer(user.accessToken));
  await eventually(() => expect(claims.waiting).toBe(before), { timeoutMs: 10_000, intervalMs: 50 });
  const res = await waiting;
  expect(res.statusCode).toBe(200);
  expect(res.json().runs).toEqual([expect.objectContaining({ task_id: task.task_id })]);
}

/** Settings under which only a wake-up answers a 25 s long poll in time: the fallback poll is 30 s, no sweep runs. */
export const ONLY_WAKE_UPS = { SCHEDULER_FALLBACK_POLL_MS: '30000', SCHEDULER_SWEEP_INTERVAL_SECS: '3600' };

export interface Replicas {
  a: NestFastifyApplication;
  b: NestFastifyApplication;
  /** A user signed up on `a`. */
  alice: Session;
  close(): Promise<void>;
}

/**
 * Two replicas of one deployment, `a` booted with `configA` and `b` with `configB` (by default the same: their
 * secrets must match, and passport's strategies are process-global).
 */
export async function bootReplicas(configA: AppConfig, configB: AppConfig = configA): Promise<Replicas> {
  const a = await bootApp(configA);
  const b = await bootApp(configB).catch(async (error: unknown) => {
    await a.close();
    throw error;
  });
  const alice = await newSession(a, 'alice');
  return {
    a,
    b,
    alice,
    close: async () => {
      await a.close();
      await b.close();
    },
  };
}

/** The LISTEN backends of a database, read over an admin connection of its own (the replicas' may be cut). */
export async function listenerPids(databaseName: string): Promise<number[]> {
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`,
      [databaseName, LISTENER_APPLICATION_NAME],
    );
    return rows.map((row) => row.pid);
  } finally {
    await admin.end();
  }
}
