import {
  BenchServer,
  LoadResult,
  needsAnotherRound,
  ratio,
  Row,
  RowResult,
  settings,
} from '../../../bench/support/http-harness';
import { STEAL_LIMIT } from '../../../bench/support/process-cpu';

/** Issue 14, acceptance 2: a ratio is refused, with the reason, for a round the generator or machine paced. */
const server: BenchServer = { name: 'x', pid: 0, url: '', fixtures: {}, stop: () => Promise.resolve() };
const load = (rps: number, generatorCpu = 0.5): LoadResult => ({
  rps,
  p50Ms: 1,
  p99Ms: 2,
  ok: rps * 8,
  non2xx: 0,
  errors: 0,
  generatorCpu,
});
const row = (label: string, extra: Partial<Row>, ...rounds: LoadResult[]): RowResult => ({
  row: { label, server, path: '/', ...extra },
  rounds,
});

describe('bench:http ratios', () => {
  // Two rounds: bare health 15k (above the 10k floor) and bare PUT 6k (below it, by design), VCP 9k.
  const bareGet = row('bare GET', { isBare: true }, load(15_000), load(15_000));
  const vcp = row('vcp GET', {}, load(9_000), load(9_000));

  it('come from every round whose bare health row is above the floor, whatever a bare PUT answers', () => {
    const barePut = row('bare PUT', { isBare: true, noFloor: true }, load(6_000), load(6_000));
    const result = ratio([bareGet, vcp, barePut], vcp, bareGet);
    expect(result).toEqual({ value: 0.6, rounds: [0.6, 0.6], refused: [] });
  });

  it('control: the same bare PUT held to the floor refuses every round, saying why', () => {
    const barePut = row('bare PUT', { isBare: true }, load(6_000), load(6_000));
    const result = ratio([bareGet, vcp, barePut], vcp, bareGet);
    expect(result.value).toBeNull();
    expect(result.refused).toEqual([
      expect.stringContaining('round 1: bare Fastify answered 6000 req/s, below the sanity floor'),
      expect.stringContaining('round 2: bare Fastify answered 6000 req/s, below the sanity floor'),
    ]);
  });

  it('refuse a round whose bare health row was starved, or whose generator pegged a core', () => {
    const starved = row('bare GET', { isBare: true }, load(8_000), load(15_000), load(15_000));
    const pegged = row('vcp GET', {}, load(9_000), load(9_000, 0.97), load(9_000));
    const result = ratio([starved, pegged], pegged, starved);
    expect(result.rounds).toEqual([0.6]);
    expect(result.refused).toEqual([
      expect.stringContaining('round 1: bare Fastify answered 8000 req/s'),
      expect.stringContaining('round 2: generator used 97 % of a core'),
    ]);
  });

  it('refuse a round in which the hypervisor took the machine while the row or its baseline ran', () => {
    const stolen = (rps: number, stealShare: number) => ({ ...load(rps), stealShare });
    const bare = row(
      'bare GET',
      { isBare: true },
      stolen(15_000, 0),
      stolen(15_000, 0.12),
      stolen(15_000, 0),
    );
    const vcp = row('vcp GET', {}, stolen(9_000, 0.2), stolen(9_000, 0), stolen(9_000, STEAL_LIMIT / 2));
    const result = ratio([bare, vcp], vcp, bare);
    expect(result.rounds).toEqual([0.6]);
    expect(result.refused).toEqual([
      expect.stringContaining(
        "round 1: vcp GET: the hypervisor took 20 % of the machine's time (steal; limit 5 %)",
      ),
      expect.stringContaining("round 2: bare GET: the hypervisor took 12 % of the machine's time"),
    ]);
  });

  it('do not refuse a row for steal during another row of the round', () => {
    const stolen = (rps: number, stealShare: number) => ({ ...load(rps), stealShare });
    const bare = row('bare GET', { isBare: true }, stolen(15_000, 0));
    const vcp = row('vcp GET', {}, stolen(9_000, 0));
    const barePut = row('bare PUT', { isBare: true, noFloor: true }, stolen(6_000, 0.3));
    expect(ratio([bare, vcp, barePut], vcp, bare)).toEqual({ value: 0.6, rounds: [0.6], refused: [] });
  });
});

describe('bench:http extra rounds', () => {
  const clean = load(15_000);
  const stolen = { ...load(15_000), stealShare: 0.2 };
  const rounds = (n: number, stolenAt: number[] = []) =>
    Array.from({ length: n }, (_, i) => (stolenAt.includes(i) ? stolen : clean));
  const results = (vcpRounds: LoadResult[]): RowResult[] => [
    row('bare GET', { isBare: true }, ...rounds(vcpRounds.length)),
    row('nest GET', {}, ...rounds(vcpRounds.length)),
    row('vcp GET', { targets: [{ of: 'bare', atLeast: 0.6 }] }, ...vcpRounds),
  ];

  it(`are needed while a row with a target has fewer than ${settings.rounds} accepted rounds`, () => {
    expect(needsAnotherRound(results(rounds(settings.rounds, [1])))).toBe(true);
    expect(needsAnotherRound(results(rounds(settings.rounds + 1, [1])))).toBe(false);
  });

  it('are not needed when every round was accepted, or for a refused row without a target', () => {
    expect(needsAnotherRound(results(rounds(settings.rounds)))).toBe(false);
    const untargeted = results(rounds(settings.rounds));
    untargeted.push(row('other', {}, ...rounds(settings.rounds, [0, 1, 2])));
    expect(needsAnotherRound(untargeted)).toBe(false);
  });
});
