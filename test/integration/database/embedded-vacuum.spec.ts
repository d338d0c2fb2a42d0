import { Test, TestingModule } from '@nestjs/testing';
import { ConfigModule } from '../../../src/config/config.module';
import { DatabaseModule } from '../../../src/database/database.module';
import { EmbeddedVacuum } from '../../../src/database/embedded-vacuum';
import { DatabaseSession } from '../../../src/database/transaction-runner';
import { testConfig, TestConfig } from '../../support/config';

/** The app's database module on a fresh PGlite with 300 users to churn. */
function usePglite(intervalSecs: string) {
  const ctx = {} as {
    env: TestConfig;
    moduleRef: TestingModule;
    session: DatabaseSession;
    sut: EmbeddedVacuum;
  };
  beforeAll(async () => {
    ctx.env = testConfig({ EMBEDDED_VACUUM_INTERVAL_SECS: intervalSecs });
    ctx.moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(ctx.env.config), DatabaseModule],
    }).compile();
    await ctx.moduleRef.init();
    ctx.session = ctx.moduleRef.get(DatabaseSession);
    ctx.sut = ctx.moduleRef.get(EmbeddedVacuum);
    await ctx.session.query(
      `INSERT INTO users (username, password_hash, email, role)
       SELECT 'vac_' || i, 'x', NULL, 'user' FROM generate_series(1, 300) AS i`,
    );
  });
  afterAll(async () => {
    await ctx.moduleRef?.close();
    ctx.env?.cleanup();
  });
  return ctx;
}

/**
 * The embedded database has no autovacuum (PostgreSQL in single-user mode): without EmbeddedVacuum every
 * non-HOT update leaves its dead row version behind for good. Sizes are of the real PGlite relation.
 */
describe('EmbeddedVacuum on PGlite', () => {
  describe('a pass (timer off)', () => {
    const ctx = usePglite('0');
    const size = async () =>
      Number((await ctx.session.query<{ n: string }>(`SELECT pg_relation_size('users') AS n`))[0].n);
    /** Ten rounds of non-HOT updates (email is indexed), each leaving 300 dead row versions. */
    const churn = async (tag: string) => {
      for (let round = 0; round < 10; round++) {
        await ctx.session.query(
          `UPDATE users SET email = $1 || '-' || username || '@example.com' WHERE username LIKE 'vac\\_%'`,
          [`${tag}${round}`],
        );
      }
    };

    it('frees dead row versions for reuse: the table stops growing once vacuumed', async () => {
      await churn('a');
      const afterFirst = await size();
      // Negative control: without a vacuum the same churn grows the table again.
      await churn('b');
      const unvacuumed = await size();
      expect(unvacuumed).toBeGreaterThan(afterFirst);
      await ctx.sut.vacuum();
      await churn('c');
      expect(await size()).toBe(unvacuumed);
    });
  });

  describe('the timer (every second)', () => {
    const ctx = usePglite('1');

    it('runs a pass on its own and gives the planner statistics', async () => {
      await ctx.session.query(`UPDATE pg_class SET reltuples = -1 WHERE relname = 'users'`);
      const reltuples = async () =>
        Number(
          (
            await ctx.session.query<{ n: string }>(
              `SELECT reltuples AS n FROM pg_class WHERE relname = 'users'`,
            )
          )[0].n,
        );
      const deadline = Date.now() + 10_000;
      while ((await reltuples()) < 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(await reltuples()).toBeGreaterThanOrEqual(300);
    });
  });
});
