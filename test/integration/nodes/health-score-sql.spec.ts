import { DataSource } from 'typeorm';
import { createDataSource } from '../../../src/database/data-source.factory';
import { healthScore } from '../../../src/nodes/health-score';
import { healthScoreSql } from '../../../src/nodes/heartbeats.repository';
import { createTestEnv, describeEachDatabase, TestEnv } from '../../support/databases';

type Inputs = [
  bandwidth: number,
  cpu: number | null,
  memory: number | null,
  latency: number | null,
  reliability: number | null,
];

/** Every combination of the listed values of each input. */
function grid(...axes: (number | null)[][]): Inputs[] {
  return axes.reduce<(number | null)[][]>(
    (rows, axis) => rows.flatMap((row) => axis.map((value) => [...row, value])),
    [[]],
  ) as Inputs[];
}

/** A deterministic stream of values in [0, 1) (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The heartbeat write scores in SQL; README and health-score.ts describe healthScore(). They must agree. */
describeEachDatabase('the SQL health score on %s', (database) => {
  let env: TestEnv;
  let ds: DataSource;

  beforeAll(async () => {
    // Empty: the score is a pure expression, no table needed.
    env = await createTestEnv(database, {}, { migrated: false });
    ds = await createDataSource(env.config, { migrationsRun: false });
    await ds.initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await env?.dispose();
  });

  const sqlScores = async (inputs: Inputs[]): Promise<number[]> => {
    const column = (i: number) => inputs.map((row) => row[i]);
    const rows: { score: number }[] = await ds.query(
      `SELECT ${healthScoreSql({
        bandwidthMbps: 't.bandwidth',
        cpuUsage: 't.cpu',
        memoryUsage: 't.memory',
        networkLatencyMs: 't.latency',
        reliability: 't.reliability',
      })} AS score
         FROM unnest($1::float8[], $2::float8[], $3::float8[], $4::float8[], $5::float8[]) WITH ORDINALITY
           AS t(bandwidth, cpu, memory, latency, reliability, i)
        ORDER BY t.i`,
      [column(0), column(1), column(2), column(3), column(4)],
    );
    return rows.map((row) => Number(row.score));
  };

  const tsScores = (inputs: Inputs[]) =>
    inputs.map(([bandwidthMbps, cpuUsage, memoryUsage, networkLatencyMs, reliability]) =>
      healthScore({ bandwidthMbps, cpuUsage, memoryUsage, networkLatencyMs, reliability }),
    );

  it("gives README's example and healthScore()'s number on a grid of edge values", async () => {
    expect(await sqlScores([[150, 20, 40, 50, null]])).toEqual([86]);
    const inputs = grid(
      [0, 10, 99.99, 100, 150, 100_000],
      [null, 0, 20, 33.3, 57.77, 100],
      [null, 0, 40, 66.67, 100],
      [null, 0, 50, 123, 499, 500, 600_000],
      [null, 0, 0.2065, 0.6, 1],
    );
    expect(await sqlScores(inputs)).toEqual(tsScores(inputs));
  });

  it('gives the same number as healthScore() for random telemetry, stored (0.01 %, whole ms) or not', async () => {
    const next = random(20261204);
    const maybe = (value: number) => (next() < 0.15 ? null : value);
    const inputs = Array.from({ length: 5000 }, (_, i): Inputs => {
      const stored = i % 2 === 0;
      const usage = () => maybe(stored ? Math.round(next() * 10_000) / 100 : next() * 100);
      return [
        next() * 200,
        usage(),
        usage(),
        maybe(stored ? Math.round(next() * 800) : next() * 800),
        next() < 0.3 ? null : Math.round(next() * 10_000) / 10_000,
      ];
    });
    expect(await sqlScores(inputs)).toEqual(tsScores(inputs));
  });
});
