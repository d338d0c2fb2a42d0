import { DataSource } from 'typeorm';
import { createDataSource } from '../../src/database/data-source.factory';
import { testConfig, TestConfig } from '../support/config';

/**
 * PGlite has one session. Without serialisation, overlapping TypeORM transactions interleave on it and a
 * rolled-back transaction's rows can end up committed. These tests hold the embedded path to ACID behaviour.
 */
describe('embedded PostgreSQL (PGlite) under concurrency', () => {
  let env: TestConfig;
  let ds: DataSource;

  beforeAll(async () => {
    env = testConfig();
    ds = await createDataSource(env.config);
    await ds.initialize();
    await ds.query(
      `CREATE TABLE concurrency_probe (id serial PRIMARY KEY, writer text NOT NULL, seq int NOT NULL)`,
    );
  });

  afterAll(async () => {
    await ds?.destroy();
    env?.cleanup();
  });

  beforeEach(() => ds.query('TRUNCATE concurrency_probe'));

  const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

  it('keeps only committed rows when parallel transactions overlap and one rolls back', async () => {
    const writers = ['a', 'b', 'doomed', 'c', 'd'];
    const results = await Promise.allSettled(
      writers.map((writer) =>
        ds.transaction(async (manager) => {
          for (let seq = 0; seq < 5; seq++) {
            await manager.query('INSERT INTO concurrency_probe (writer, seq) VALUES ($1, $2)', [writer, seq]);
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
    const rows: { writer: string; n: number }[] = await ds.query(
      'SELECT writer, count(*)::int AS n FROM concurrency_probe GROUP BY writer ORDER BY writer',
    );
    expect(rows).toEqual([
      { writer: 'a', n: 5 },
      { writer: 'b', n: 5 },
      { writer: 'c', n: 5 },
      { writer: 'd', n: 5 },
    ]);
  });

  it('never lets a transaction see another one’s uncommitted rows', async () => {
    let seenByReader = -1;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const writer = ds.transaction(async (manager) => {
      await manager.query(`INSERT INTO concurrency_probe (writer, seq) VALUES ('w', 1)`);
      await gate;
      throw new Error('abort');
    });
    const reader = (async () => {
      await pause();
      release();
      const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM concurrency_probe`);
      seenByReader = n;
    })();
    await expect(writer).rejects.toThrow('abort');
    await reader;
    expect(seenByReader).toBe(0);
  });

  it('serves many concurrent autocommit queries without losing a write', async () => {
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        ds.query('INSERT INTO concurrency_probe (writer, seq) VALUES ($1, $2)', ['auto', i]),
      ),
    );
    const [{ n, distinct }] = await ds.query(
      `SELECT count(*)::int AS n, count(DISTINCT seq)::int AS distinct FROM concurrency_probe`,
    );
    expect({ n, distinct }).toEqual({ n: 100, distinct: 100 });
  });
});
