import { Test, TestingModule } from '@nestjs/testing';
import { AuditLogRepository, NewAuditRecord } from '../../../src/audit/audit-log.repository';
import { ConfigModule } from '../../../src/config/config.module';
import { DatabaseModule } from '../../../src/database/database.module';
import { DatabaseSession, TransactionRunner } from '../../../src/database/transaction-runner';
import { UsersRepository } from '../../../src/users/users.repository';
import { uniqueName } from '../../support/auth';
import { testConfig, TestConfig } from '../../support/config';
import { createTestDatabase, TestDatabase } from '../../support/postgres';

const probe = (action: string): NewAuditRecord => ({
  userId: null,
  action,
  resourceType: null,
  resourceId: null,
  ipAddress: null,
  userAgent: null,
  requestId: null,
  status: 'success',
  errorMessage: null,
  metadata: null,
});

/** A promise and the function that resolves it: one step of a test waits for another. */
function signal(): [Promise<void>, () => void] {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return [promise, resolve];
}

/** Real repositories in TransactionRunner.run, on PostgreSQL and on the embedded database (one session). */
describe.each([
  ['PostgreSQL', true],
  ['PGlite', false],
])('TransactionRunner on %s', (_name, onPostgres) => {
  let db: TestDatabase | undefined;
  let env: TestConfig;
  let moduleRef: TestingModule;
  let sut: TransactionRunner;
  let session: DatabaseSession;
  let users: UsersRepository;
  let auditLog: AuditLogRepository;

  beforeAll(async () => {
    db = onPostgres ? await createTestDatabase() : undefined;
    env = testConfig(db ? { DATABASE_URL: db.url } : {});
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(env.config), DatabaseModule],
      providers: [UsersRepository, AuditLogRepository],
    }).compile();
    await moduleRef.init();
    sut = moduleRef.get(TransactionRunner);
    session = moduleRef.get(DatabaseSession);
    users = moduleRef.get(UsersRepository);
    auditLog = moduleRef.get(AuditLogRepository);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await db?.drop();
    env?.cleanup();
  });

  const newUser = (username: string) => users.create({ username, passwordHash: 'x', email: null });
  const count = async (action: string) =>
    (
      await session.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = $1`, [
        action,
      ])
    )[0].n;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

  it('commits repository calls made inside run, and they see each other’s writes', async () => {
    const username = uniqueName('committed');
    const found = await sut.run(async () => {
      expect(session.inTransaction).toBe(true);
      const created = await newUser(username);
      await auditLog.insert(probe('probe.committed'));
      return users.findById(created.userId);
    });
    expect(session.inTransaction).toBe(false);
    expect(found?.username).toBe(username);
    expect((await users.findByUsername(username))?.userId).toBe(found?.userId);
    expect(await count('probe.committed')).toBe(1);
  });

  it('rolls a repository call back with the transaction it ran in', async () => {
    const username = uniqueName('undone');
    await expect(
      sut.run(async () => {
        await newUser(username);
        await auditLog.insert(probe('probe.undone'));
        expect(await users.findByUsername(username)).not.toBeNull(); // visible inside, before the end
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect(await users.findByUsername(username)).toBeNull();
    expect(await count('probe.undone')).toBe(0);
  });

  it('a nested run joins the outer transaction: it sees the outer writes and rolls back with them', async () => {
    const outer = uniqueName('outer');
    const inner = uniqueName('inner');
    await expect(
      sut.run(async () => {
        await newUser(outer);
        const seenInside = await sut.run(async () => {
          await newUser(inner);
          return users.findByUsername(outer);
        });
        expect(seenInside?.username).toBe(outer);
        throw new Error('undo both');
      }),
    ).rejects.toThrow('undo both');
    expect(await users.findByUsername(outer)).toBeNull();
    expect(await users.findByUsername(inner)).toBeNull();
  });

  it('keeps concurrent transactions apart: each commits or rolls back whole', async () => {
    const writers = ['a', 'b', 'doomed', 'c', 'd'];
    const results = await Promise.allSettled(
      writers.map((writer) =>
        sut.run(async () => {
          for (let seq = 0; seq < 5; seq++) {
            await auditLog.insert(probe(`probe.concurrent.${writer}`));
            await pause(); // yield, so the other transactions get every chance to interleave
          }
          if (writer === 'doomed') throw new Error('roll me back');
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    const counts = await Promise.all(writers.map((writer) => count(`probe.concurrent.${writer}`)));
    expect(counts).toEqual([5, 5, 0, 5, 5]);
  });

  it('work that outlives its transaction queries on a pooled connection, not the released one', async () => {
    const [afterCommit, committed] = signal();
    let later!: Promise<[boolean, number]>;
    await sut.run(async () => {
      await auditLog.insert(probe('probe.outlived'));
      // Registered inside the transaction, so it carries the transaction's async context; runs after the commit.
      later = afterCommit.then(async () => [session.inTransaction, await count('probe.outlived')]);
    });
    committed();
    expect(await later).toEqual([false, 1]);
  });

  it('a transaction that ends leaves the ones still running in their own transactions', async () => {
    const [afterFirst, firstEnded] = signal();
    const first = sut.run(() => auditLog.insert(probe('probe.first')));
    // On PostgreSQL it runs alongside the first; on the embedded database (one session) it waits for it.
    const second = sut.run(async () => {
      await auditLog.insert(probe('probe.second'));
      await afterFirst;
      expect(session.inTransaction).toBe(true);
      await auditLog.insert(probe('probe.second'));
      throw new Error('roll back both rows');
    });
    await first;
    firstEnded();
    await expect(second).rejects.toThrow('roll back both rows');
    expect(await count('probe.first')).toBe(1);
    expect(await count('probe.second')).toBe(0);
  });

  it('a query from outside a running transaction neither lands in it nor sees its uncommitted rows', async () => {
    const [insertedOnce, inserted] = signal();
    const [gate, release] = signal();
    const writer = sut.run(async () => {
      await auditLog.insert(probe('probe.isolated'));
      inserted();
      await gate;
      throw new Error('abort');
    });
    await insertedOnce;
    // Started by the test, outside the transaction's async context, while the transaction is open.
    const outside = Promise.all([count('probe.isolated'), auditLog.insert(probe('probe.outside'))]);
    release();
    await expect(writer).rejects.toThrow('abort');
    const [seen] = await outside;
    expect(seen).toBe(0);
    expect(await count('probe.isolated')).toBe(0);
    expect(await count('probe.outside')).toBe(1); // committed on its own, not rolled back with the writer
  });
});

/** Two transactions that lock two rows in opposite orders deadlock; TransactionRunner runs the loser again. */
describe('TransactionRunner on a deadlock (PostgreSQL)', () => {
  let db: TestDatabase;
  let env: TestConfig;
  let moduleRef: TestingModule;
  let sut: TransactionRunner;
  let session: DatabaseSession;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = testConfig({ DATABASE_URL: db.url });
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(env.config), DatabaseModule],
    }).compile();
    await moduleRef.init();
    sut = moduleRef.get(TransactionRunner);
    session = moduleRef.get(DatabaseSession);
    await session.query(`CREATE TABLE deadlock_probe (id int PRIMARY KEY, n int NOT NULL)`);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await db?.drop();
    env?.cleanup();
  });

  /** Each transaction takes its first row, waits until the other has its own, then wants the other's. */
  async function crossedTransactions(run: (work: () => Promise<void>) => Promise<void>) {
    await session.query(`TRUNCATE deadlock_probe; INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)`);
    let arrived = 0;
    let release!: () => void;
    const bothHoldOne = new Promise<void>((resolve) => (release = resolve));
    const attempts = [0, 0];
    const crossed = (index: number, first: number, second: number) =>
      run(async () => {
        attempts[index]++;
        await session.query(`UPDATE deadlock_probe SET n = n + 1 WHERE id = $1`, [first]);
        if (attempts[index] === 1) {
          if (++arrived === 2) release();
          await bothHoldOne;
        }
        await session.query(`UPDATE deadlock_probe SET n = n + 1 WHERE id = $1`, [second]);
      });
    const outcomes = await Promise.allSettled([crossed(0, 1, 2), crossed(1, 2, 1)]);
    const rows = await session.query<{ n: number }>(`SELECT n FROM deadlock_probe ORDER BY id`);
    return { outcomes, attempts, counts: rows.map((row) => row.n) };
  }

  it('runs the transaction PostgreSQL chose as the deadlock victim again: both commit, each once', async () => {
    const { outcomes, attempts, counts } = await crossedTransactions((work) => sut.run(work));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(attempts[0] + attempts[1]).toBe(3);
    expect(counts).toEqual([2, 2]);
  });

  it('without the retry the victim fails with deadlock_detected (negative control)', async () => {
    sut.maxAttempts = 1;
    try {
      const { outcomes, counts } = await crossedTransactions((work) => sut.run(work));
      const failures = outcomes.filter((o) => o.status === 'rejected');
      expect(failures).toHaveLength(1);
      expect(String(failures[0].reason)).toMatch(/deadlock/);
      expect(counts).toEqual([1, 1]);
    } finally {
      sut.maxAttempts = 3;
    }
  });
});
