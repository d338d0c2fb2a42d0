import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError } from '../../../src/common/config/problems';
import { loadConfig } from '../../../src/config/load-config';
import { backticked, ConfigRow, documentedRanges } from '../../support/readme-config';
import {
  companions,
  declaredRulesOf,
  PRODUCTION_SETTINGS,
  ROW_OF,
  ROWS,
  sampleValue,
} from '../../support/readme-config-values';

/**
 * What README's configuration table says a value may be — a range, a list of choices, required in production —
 * is what the loader enforces: a value outside is refused at the config check (the server prints the problems
 * and exits 78: test/e2e/server-process.spec.ts), naming the variable and the bound; one inside is accepted.
 */

/** Rows that document several variables: which one a range of the row is about. */
const RANGE_OWNERS: Record<string, string> = {
  'ADMIN_USERNAME, ADMIN_PASSWORD': 'ADMIN_PASSWORD',
};

/** Whole-number variables whose row states no range, each with why. */
const UNSTATED_RANGES: Record<string, string> = {
  CONTENT_CACHE_MAX_BYTES:
    'any whole number of bytes: the row says `0` turns the cache off, and there is no maximum',
};

const ownerOf = (row: ConfigRow): string => {
  if (row.names.length === 1) return row.names[0];
  const owner = RANGE_OWNERS[row.written.join(', ')];
  if (!owner)
    throw new Error(`${row.written.join(', ')}: which variable its range is about: add to RANGE_OWNERS`);
  return owner;
};

describe("README's configuration table: ranges, choices and production", () => {
  let cwd: string;
  beforeAll(() => (cwd = mkdtempSync(join(tmpdir(), 'vcp-readme-rules-'))));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  /** The problems naming `name` when the loader reads `env` (none when it accepts it). */
  function problemsOf(name: string, env: Record<string, string>): string[] {
    try {
      loadConfig(env, cwd);
      return [];
    } catch (error) {
      if (!(error instanceof ConfigValidationError)) throw error;
      return error.problems.filter((problem) => problem.startsWith(`${name}:`));
    }
  }

  it('refuses a value just outside each documented range, naming the variable and the bound, and accepts its bounds', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const row of ROWS) {
      for (const range of documentedRanges(row.meaning)) {
        const name = ownerOf(row);
        // An ASCII text is as many bytes as characters.
        const valueOf = (n: number) => (range.unit === 'number' ? String(n) : 'x'.repeat(n));
        const at = (n: number) => problemsOf(name, { ...companions(name), [name]: valueOf(n) });
        const bounds = range.high === null ? [range.low] : [range.low, range.high];
        for (const [n, bound] of [
          [range.low - 1, range.low],
          ...(range.high === null ? [] : [[range.high + 1, range.high]]),
        ]) {
          const problems = at(n);
          if (!problems.some((problem) => problem.includes(String(bound))))
            wrong.push(
              `${name} (${range.text}): ${n} is not refused naming ${bound}: ${JSON.stringify(problems)}`,
            );
        }
        for (const n of bounds) {
          const problems = at(n);
          if (problems.length > 0)
            wrong.push(`${name} (${range.text}): ${n} is refused: ${problems.join('; ')}`);
        }
        checked++;
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(15); // the table's ranges were found at all
  });

  it('states the range of every whole-number variable, as the schema declares it', () => {
    const undocumented: string[] = [];
    for (const [name, row] of ROW_OF) {
      const rules = declaredRulesOf(name);
      if (!rules.has('min') || name in UNSTATED_RANGES) continue;
      const [min, max] = [rules.get('min')![0] as number, rules.get('max')![0] as number];
      const declared = `${min}–${max === Number.MAX_SAFE_INTEGER ? '' : max}`;
      const stated = documentedRanges(row.meaning).map((range) => `${range.low}–${range.high ?? ''}`);
      if (!stated.includes(declared))
        undocumented.push(`${name}: declared ${declared}, README states ${stated.join(', ') || 'none'}`);
    }
    expect(undocumented).toEqual([]);
    // An exception that no longer applies is removed.
    expect(Object.keys(UNSTATED_RANGES).filter((name) => !declaredRulesOf(name).has('min'))).toEqual([]);
  });

  it('refuses below the minimum a row says production refuses', () => {
    const production = { ...PRODUCTION_SETTINGS, ENVIRONMENT: 'production' };
    const rows = ROWS.filter((row) => /production refuses < \d+/.test(row.meaning));
    expect(rows.map(ownerOf)).toEqual(['BCRYPT_COST']);
    for (const row of rows) {
      const minimum = Number(/production refuses < (\d+)/.exec(row.meaning)![1]);
      const name = ownerOf(row);
      expect(problemsOf(name, { ...production, [name]: String(minimum - 1) })).toEqual([
        `${name}: must be at least ${minimum} in production`,
      ]);
      expect(problemsOf(name, { ...production, [name]: String(minimum) })).toEqual([]);
    }
  });

  it('lists every value a choice accepts, and other values are refused naming the choices', () => {
    const choices = [...ROW_OF.keys()].flatMap((name) => {
      const values = declaredRulesOf(name).get('isIn')?.[0] as string[] | undefined;
      return values ? [{ name, values }] : [];
    });
    expect(choices.map(({ name }) => name).sort()).toEqual([
      'EMBEDDED_NODE',
      'ENVIRONMENT',
      'LOG_LEVEL',
      'REGISTRATION',
      'WASM_DEFAULT_RUNTIME',
    ]);
    for (const { name, values } of choices) {
      const documented = backticked(ROW_OF.get(name)!.meaning);
      expect([name, values.filter((value) => !documented.includes(value))]).toEqual([name, []]);
      expect(problemsOf(name, { [name]: 'no-such-choice' })).toEqual([
        `${name}: must be one of: ${values.join(', ')}`,
      ]);
    }
  });

  it('requires in production exactly what the table says production requires', () => {
    const requiredByReadme = ROWS.filter((row) =>
      /required in production|production: required/i.test(row.meaning),
    )
      .flatMap((row) => row.names)
      .sort();
    let problems: string[] = [];
    try {
      loadConfig({ ENVIRONMENT: 'production' }, cwd);
    } catch (error) {
      if (!(error instanceof ConfigValidationError)) throw error;
      problems = error.problems;
    }
    const required = problems
      .map((problem) => /^(\w+): is required in production$/.exec(problem)?.[1])
      .filter((name) => name !== undefined)
      .sort();
    expect(required).toEqual(requiredByReadme);
    expect(() => loadConfig({ ...PRODUCTION_SETTINGS, ENVIRONMENT: 'production' }, cwd)).not.toThrow();
  });

  it('needs in production one of each pair the table says production needs one of', () => {
    const production = { ...PRODUCTION_SETTINGS, ENVIRONMENT: 'production' };
    const pairs = ROWS.flatMap((row) => {
      const other = /Production needs this or `(\w+)`/.exec(row.meaning)?.[1];
      return other ? [[row.names[0], other] as const] : [];
    });
    expect(pairs).toEqual([['METRICS_ALLOWED_CIDRS', 'METRICS_TOKEN']]);
    for (const [one, other] of pairs) {
      const without: Record<string, string> = { ...production };
      delete without[one];
      delete without[other];
      const refused = [...problemsOf(one, without), ...problemsOf(other, without)];
      expect(refused).toHaveLength(1);
      expect(refused[0]).toContain(`${one}`);
      expect(refused[0]).toContain(`${other}`);
      expect(() => loadConfig({ ...without, [one]: sampleValue(one) }, cwd)).not.toThrow();
      expect(() => loadConfig({ ...without, [other]: sampleValue(other) }, cwd)).not.toThrow();
    }
  });
});
