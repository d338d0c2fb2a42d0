import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { VcpMetrics } from '../../../src/metrics/vcp-metrics';
import { RetentionConfig } from '../../../src/retention/retention.config';
import { RetentionRepository } from '../../../src/retention/retention.repository';
import {
  MAX_RETENTION_ROUNDS,
  RETENTION_BATCH,
  RetentionSweeper,
} from '../../../src/retention/retention.sweeper';
import { useTestApp } from '../../support/app';
import { bearer, newSession } from '../../support/auth';
import { ORIGINAL_TASK, postTask } from '../../support/tasks';

const refresh = (app: NestFastifyApplication, token: string) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token } });

describe.each([
  ['PostgreSQL', 'postgres'],
  ['PGlite', 'pglite'],
] as const)('retention sweep on %s', (_name, database) => {
  const ctx = useTestApp({
    database,
    env: { RETENTION_SWEEP_INTERVAL_SECS: '3600', AUDIT_LOG_RETENTION_DAYS: '30' },
  });
  const sweep = () => ctx.app.get(RetentionSweeper).sweep();
  const count = async (sql: string, params: unknown[]) =>
    (await ctx.dataSource.query<{ n: number }[]>(sql, params))[0].n;

  const refusalOf = async (requestId: string) =>
    (
      await ctx.dataSource.query<{ error_message: string }[]>(
        `SELECT error_message FROM audit_log WHERE action = 'auth.refresh' AND request_id = $1`,
        [requestId],
      )
    )[0]?.error_message;

  it('deletes idempotency keys past their expiry and keeps live ones, which still answer a repeat', async () => {
    const alice = await newSession(ctx.app, 'retention');
    const submit = (key: string) =>
      postTask(ctx.app, { ...bearer(alice.accessToken), 'idempotency-key': key }, ORIGINAL_TASK);
    const live = await submit('live-key');
    expect((await submit('dead-key')).statusCode).toBe(201);
    await ctx.dataSource.query(
      `UPDATE task_idempotency_keys SET expires_at = now() - interval '1 second'
        WHERE user_id = $1 AND idempotency_key = 'dead-key'`,
      [alice.userId],
    );

    expect((await sweep()).task_idempotency_keys).toBe(1);
    const keys = await ctx.dataSource.query(
      `SELECT idempotency_key FROM task_idempotency_keys WHERE user_id = $1`,
      [alice.userId],
    );
    expect(keys).toEqual([{ idempotency_key: 'live-key' }]);
    const repeat = await submit('live-key');
    expect(repeat.json<{ task_id: string }>().task_id).toBe(live.json<{ task_id: string }>().task_id);
  });

  it('deletes only refresh-token families a day past their expiry; reuse detection still fires after', async () => {
    const live = await newSession(ctx.app, 'retention');
    const rotated = await refresh(ctx.app, live.refreshToken);
    expect(rotated.statusCode).toBe(200);
    const dead = await newSession(ctx.app, 'retention');
    const deadNext = (await refresh(ctx.app, dead.refreshToken)).json<{ refresh_token: string }>();
    const recent = await newSession(ctx.app, 'retention');
    const age = (userId: string, interval: string) =>
      ctx.dataSource.query(
        `UPDATE refresh_tokens SET expires_at = now() - $2::interval, family_expires_at = now() - $2::interval
          WHERE user_id = $1`,
        [userId, interval],
      );
    await age(dead.userId, '25 hours');
    await age(recent.userId, '23 hours'); // ended, but within the grace day: kept

    expect((await sweep()).refresh_tokens).toBe(2);
    const rows = (userId: string) =>
      count(`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = $1`, [userId]);
    expect([await rows(live.userId), await rows(dead.userId), await rows(recent.userId)]).toEqual([2, 0, 1]);

    // Within the grace day a token of the ended family is still refused for what it is.
    const ended = await refresh(ctx.app, recent.refreshToken);
    expect(ended.statusCode).toBe(401);
    expect(await refusalOf(ended.json<{ request_id: string }>().request_id)).toBe('family_expired');
    // A token of a deleted family is unknown now, and refused all the same.
    const gone = await refresh(ctx.app, deadNext.refresh_token);
    expect(gone.statusCode).toBe(401);
    expect(await refusalOf(gone.json<{ request_id: string }>().request_id)).toBe('unknown_token');
    // The live family's rotated token was kept: replaying it is still detected and ends the family.
    const replay = await refresh(ctx.app, live.refreshToken);
    expect(replay.statusCode).toBe(401);
    expect(
      await count(
        `SELECT count(*)::int AS n FROM audit_log WHERE action = 'auth.refresh_reuse_detected' AND user_id = $1`,
        [live.userId],
      ),
    ).toBe(1);
    const successor = rotated.json<{ refresh_token: string }>().refresh_token;
    expect((await refresh(ctx.app, successor)).statusCode).toBe(401);
  });

  it('prunes audit rows older than AUDIT_LOG_RETENTION_DAYS only when it is set', async () => {
    await sweep(); // whatever earlier tests left
    const [{ old_id }] = await ctx.dataSource.query(
      `INSERT INTO audit_log (action, status, created_at) VALUES ('test.old', 'success', now() - interval '31 days')
       RETURNING log_id AS old_id`,
    );
    const [{ young_id }] = await ctx.dataSource.query(
      `INSERT INTO audit_log (action, status, created_at) VALUES ('test.young', 'success', now() - interval '29 days')
       RETURNING log_id AS young_id`,
    );
    const kept = async () =>
      (
        await ctx.dataSource.query<{ log_id: string }[]>(
          `SELECT log_id FROM audit_log WHERE log_id IN ($1, $2) ORDER BY action`,
          [old_id, young_id],
        )
      ).map((row) => row.log_id);

    const keepForever = new RetentionSweeper(
      ctx.app.get(RetentionRepository),
      new RetentionConfig({ sweepIntervalMs: 3_600_000, auditLogRetentionDays: null }),
      ctx.app.get(VcpMetrics),
    );
    expect((await keepForever.sweep()).audit_log).toBe(0);
    expect(await kept()).toEqual([old_id, young_id]);

    expect((await sweep()).audit_log).toBe(1);
    expect(await kept()).toEqual([young_id]);
  });

  it('deletes in bounded batches, works a backlog off over sweeps, and counts it by table', async () => {
    const cap = RETENTION_BATCH * MAX_RETENTION_ROUNDS;
    await sweep();
    await ctx.dataSource.query(
      `INSERT INTO audit_log (action, status, created_at)
       SELECT 'test.backlog', 'success', now() - interval '40 days' FROM generate_series(1, $1)`,
      [cap + 57],
    );
    expect(await ctx.app.get(RetentionRepository).pruneAuditLog(30, 7)).toBe(7);

    const metric = async () =>
      (
        await ctx.app.get(VcpMetrics).registry.getSingleMetric('vcp_retention_rows_pruned_total')!.get()
      ).values
        .filter((value) => value.labels.table === 'audit_log')
        .map((value) => value.value)[0];
    const before = await metric();
    expect((await sweep()).audit_log).toBe(cap);
    expect((await sweep()).audit_log).toBe(50);
    expect(await metric()).toBe(before + cap + 50);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'test.backlog'`, [])).toBe(0);
  });

  it('replicas sweeping at once delete each row once', async () => {
    await sweep();
    await ctx.dataSource.query(
      `INSERT INTO audit_log (action, status, created_at)
       SELECT 'test.concurrent', 'success', now() - interval '40 days' FROM generate_series(1, 1234)`,
    );
    const reports = await Promise.all([sweep(), sweep(), sweep()]);
    expect(reports.reduce((sum, report) => sum + report.audit_log, 0)).toBe(1234);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'test.concurrent'`, [])).toBe(
      0,
    );
  });
});
