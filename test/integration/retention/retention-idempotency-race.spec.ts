import type { Pool } from 'pg';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { TransactionRunner } from '../../../src/database/transaction-runner';
import { RetentionRepository } from '../../../src/retention/retention.repository';
import { RETENTION_BATCH, RetentionSweeper } from '../../../src/retention/retention.sweeper';
import { IdempotencyKeysRepository } from '../../../src/tasks/idempotency-keys.repository';
import { useTestApp } from '../../support/app';
import { bearer, newSession, Session } from '../../support/auth';
import { describeEachDatabase } from '../../support/databases';
import { eventually } from '../../support/eventually';
import { ORIGINAL_TASK, postTask } from '../../support/tasks';

/** A promise and the function that settles it: the point one side of an interleaving waits at. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * The retention sweep deletes an expired Idempotency-Key while a submission reuses that key (which replaces the
 * expired claim), in both orders, each held at its step until the other is seen waiting for it. Either way the
 * submission gets one new task, the key names it afterwards, and a repeat answers with it.
 */
describeEachDatabase('retention sweep racing a reused expired Idempotency-Key on %s', (database) => {
  const ctx = useTestApp({
    database,
    env: { RETENTION_SWEEP_INTERVAL_SECS: '3600', SCHEDULER_SWEEP_INTERVAL_SECS: '3600' },
  });
  let alice: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'racer');
  });

  const submit = (key: string) =>
    postTask(ctx.app, { ...bearer(alice.accessToken), 'idempotency-key': key }, ORIGINAL_TASK);
  const taskIdOf = (res: Awaited<ReturnType<typeof submit>>) => {
    expect([res.statusCode, res.body]).toEqual([201, expect.any(String)]);
    return res.json<{ task_id: string }>().task_id;
  };

  /** A key whose first task was submitted more than its lifetime ago; that task's id. */
  async function expiredKey(key: string): Promise<string> {
    const first = taskIdOf(await submit(key));
    await ctx.dataSource.query(
      `UPDATE task_idempotency_keys SET expires_at = now() - interval '1 second'
        WHERE user_id = $1 AND idempotency_key = $2`,
      [alice.userId, key],
    );
    return first;
  }

  /**
   * Until the other side's statement waits for the side held open: for a row lock of task_idempotency_keys on
   * PostgreSQL; on PGlite, whose one session serialises transactions, for that session.
   */
  async function otherSideWaits(): Promise<void> {
    if (database === 'pglite') {
      const pool = (ctx.dataSource.driver as PostgresDriver).master as Pool;
      await eventually(() => expect(pool.waitingCount).toBeGreaterThan(0));
      return;
    }
    await eventually(async () => {
      const [{ n }] = await ctx.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'
            AND query LIKE '%task_idempotency_keys%'`,
      );
      expect(n).toBe(1);
    });
  }

  /** One task for the reused key, the key naming it (live), and a repeat answered with it, not a third. */
  async function expectOneTaskFor(key: string, first: string, second: string): Promise<void> {
    expect(second).not.toBe(first);
    const rows = await ctx.dataSource.query<{ task_id: string; live: boolean }[]>(
      `SELECT task_id, expires_at > now() AS live FROM task_idempotency_keys
        WHERE user_id = $1 AND idempotency_key = $2`,
      [alice.userId, key],
    );
    expect(rows).toEqual([{ task_id: second, live: true }]);
    expect(taskIdOf(await submit(key))).toBe(second);
    // Every task of the user since the key's first: that one and the reuse's, no other.
    const tasks = await ctx.dataSource.query<{ task_id: string }[]>(
      `SELECT task_id FROM tasks
        WHERE creator_id = $1 AND created_at >= (SELECT created_at FROM tasks WHERE task_id = $2)`,
      [alice.userId, first],
    );
    expect(tasks.map((t) => t.task_id).sort()).toEqual([first, second].sort());
  }

  it('the sweep deletes the key first: the submission waits for that, then claims the key afresh', async () => {
    const first = await expiredKey('swept-first');
    const deleted = gate();
    const commit = gate();
    // The sweep's delete statement, in a transaction held open after it: the expired row is deleted, uncommitted.
    const sweeping = ctx.app.get(TransactionRunner).run(async () => {
      const n = await ctx.app.get(RetentionRepository).pruneIdempotencyKeys(RETENTION_BATCH);
      deleted.open();
      await commit.opened;
      return n;
    });
    try {
      await deleted.opened;
      const submission = submit('swept-first');
      await otherSideWaits();
      commit.open();
      expect(await sweeping).toBe(1);
      await expectOneTaskFor('swept-first', first, taskIdOf(await submission));
    } finally {
      // Failed before the commit (the wait not seen): the sweep's transaction is not left holding its session
      // and lock, which would hang the app's close and the rest of the file instead of failing this test.
      commit.open();
    }
  });

  it('the submission revives the key first: the sweep waits for it, then leaves the live key alone', async () => {
    const first = await expiredKey('claimed-first');
    const keys = ctx.app.get(IdempotencyKeysRepository);
    const claim = keys.claim.bind(keys);
    const claimed = gate();
    const commit = gate();
    // The submission's own claim, in its own transaction, held open after it: the row revived, uncommitted.
    const held = jest.spyOn(keys, 'claim').mockImplementation(async (...args) => {
      const won = await claim(...args);
      claimed.open();
      await commit.opened;
      return won;
    });
    try {
      const submission = submit('claimed-first');
      await claimed.opened;
      const sweeping = ctx.app.get(RetentionSweeper).sweep();
      await otherSideWaits();
      commit.open();
      const second = taskIdOf(await submission);
      expect((await sweeping).task_idempotency_keys).toBe(0);
      await expectOneTaskFor('claimed-first', first, second);
    } finally {
      commit.open();
      held.mockRestore();
    }
  });
});
