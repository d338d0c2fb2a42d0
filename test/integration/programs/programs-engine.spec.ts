import { PROGRAMS, ProgramName, programNamed } from '../../../src/programs/program-catalog';
import { readProgram } from '../../../src/programs/program-files';
import type { RunResult } from '../../../src/wasm/wasm.service';
import type { WasmRuntimeName } from '../../../src/wasm/wasm.config';
import { testConfig } from '../../support/config';
import { buildEngine, Engine } from '../../support/wasm';

/**
 * The built-in programs (dist/programs, built by `npm run build`) run through the real WASM engine on both
 * runtimes: right answers, errors as answers, contract violations as exit code 2, and the same bytes on both
 * runtimes and on every run (what makes two nodes agree).
 */
describe('built-in programs on the WASM engine', () => {
  const env = testConfig();
  let engine: Engine;
  const bytes = new Map<ProgramName, Buffer>();

  beforeAll(async () => {
    engine = await buildEngine(env.config);
    for (const program of PROGRAMS) bytes.set(program.name, await readProgram(program));
  });
  afterAll(async () => {
    await engine.close();
    env.cleanup();
  });

  const run = (name: ProgramName, inputs: unknown, runtime: WasmRuntimeName = 'v8'): Promise<RunResult> =>
    engine.service.runBytes(bytes.get(name)!, { inputs, runtime, deterministic: runtime === 'v8' });
  const output = async (name: ProgramName, inputs: object, runtime: WasmRuntimeName = 'v8') => {
    const result = await run(name, { program: name, ...inputs }, runtime);
    expect({ outcome: result.outcome, stderr: result.stderr }).toEqual({ outcome: 'ok', stderr: '' });
    return result.stdout as Record<string, unknown>;
  };

  describe.each<WasmRuntimeName>(['v8', 'wasmer'])('on %s', (runtime) => {
    it('expression: exact arithmetic with precedence, rationals and a 30-digit rounding when inexact', async () => {
      const value = (expression: string) => output('expression', { expression }, runtime);
      expect(await value('2+3*4')).toEqual({ result: 14, decimal: '14', exact: true, fraction: '14' });
      // 0.1 + 0.2 is 0.30000000000000004 in binary floating point: exact decimals say 0.3.
      expect(await value('0.1+0.2')).toMatchObject({ decimal: '0.3', exact: true, fraction: '3/10' });
      expect(await value('(1/3)*3')).toMatchObject({ result: 1, exact: true });
      expect(await value('1/3')).toEqual({
        result: 1 / 3,
        decimal: `0.${'3'.repeat(30)}`,
        exact: false,
        fraction: '1/3',
      });
      expect(await value('-2/3')).toMatchObject({ decimal: `-0.${'6'.repeat(29)}7`, fraction: '-2/3' });
      expect(await value(' -7 / 2 ')).toMatchObject({ result: -3.5, decimal: '-3.5', fraction: '-7/2' });
      expect(await value('2 × 3 ÷ 4 − 1')).toMatchObject({ decimal: '0.5' });
      expect(await value('1/1024')).toMatchObject({ decimal: '0.0009765625', exact: true });
      expect(await value('-0*5')).toMatchObject({ decimal: '0', fraction: '0' });
      // How the original's {numbers} body spells 1e21 and 1e-7 (the grammar has no exponents).
      expect(await value(`1${'0'.repeat(21)}+0.0000001`)).toMatchObject({
        decimal: `1${'0'.repeat(21)}.0000001`,
        exact: true,
      });
      const a = '123456789012345678901234567890';
      const b = '987654321098765432109876543210';
      expect(await value(`${a}*${b}-${b}`)).toMatchObject({
        decimal: (BigInt(a) * BigInt(b) - BigInt(b)).toString(),
        exact: true,
      });
      // Past 300 integer digits `result` is null (README): `decimal` holds the value.
      expect(await value('9'.repeat(300))).toMatchObject({ result: Number('9'.repeat(300)) });
      expect(await value('9'.repeat(301))).toMatchObject({ result: null, decimal: '9'.repeat(301) });
      // So is a non-zero value past 300 zeros after the point, which a JSON number reader would read as 0.
      const tiny = `0.${'0'.repeat(990)}1`;
      expect(await value(tiny)).toMatchObject({ result: null, decimal: tiny, exact: true });
      expect(await value(`-0.${'0'.repeat(301)}1`)).toMatchObject({ result: null });
      expect(await value(`0.${'0'.repeat(300)}1`)).toMatchObject({ result: 1e-301 });
      expect(await value('0')).toMatchObject({ result: 0 });
    });

    it('expression: no value is an answer with a code and the position; bad input exits 2', async () => {
      const value = (expression: string) => output('expression', { expression }, runtime);
      expect(await value('10/(5-5)')).toEqual({
        error: 'division_by_zero',
        message: 'division by zero at position 2',
        position: 2,
      });
      expect(await value('2*(3+4')).toMatchObject({ error: 'syntax_error', position: 6 });
      expect(await value('1e3')).toMatchObject({ error: 'syntax_error', position: 1 });
      expect(await value('2+')).toMatchObject({
        error: 'syntax_error',
        message: 'unexpected end of the expression',
      });
      expect(await value('3..4')).toMatchObject({ error: 'syntax_error', position: 2 });
      // A character outside the BMP is quoted whole, not as two broken halves.
      expect(await value('\u{1F600}+1')).toMatchObject({ message: 'unexpected "\u{1F600}" at position 0' });
      expect(await value('')).toMatchObject({ error: 'syntax_error', message: 'the expression is empty' });
      for (const inputs of [{ expression: 5 }, { expression: '1', extra: true }, 'not an object']) {
        const result = await run('expression', inputs, runtime);
        expect({ outcome: result.outcome, exit: result.exit_code }).toEqual({
          outcome: 'exit_nonzero',
          exit: 2,
        });
        expect(result.stdout).toMatchObject({ error: 'invalid_input' });
      }
    });

    it('monte_carlo_pi: estimates π, echoes its inputs, and is the documented generator', async () => {
      const out = await output('monte_carlo_pi', { samples: 200_000, seed: 42 }, runtime);
      expect(out).toMatchObject({ samples: 200_000, seed: 42 });
      expect(out.estimated_pi).toBe((4 * (out.inside as number)) / 200_000);
      expect(Math.abs((out.estimated_pi as number) - Math.PI)).toBeLessThan(0.02);
      expect((await output('monte_carlo_pi', { samples: 5000, seed: 7 }, runtime)).inside).toBe(
        referenceInside(7n, 5000),
      );
      const other = await output('monte_carlo_pi', { samples: 5000, seed: 8 }, runtime);
      expect(other.inside).toBe(referenceInside(8n, 5000));
      expect(other.inside).not.toBe(referenceInside(7n, 5000));
      expect(await output('monte_carlo_pi', {}, runtime)).toMatchObject({ samples: 1_000_000, seed: 0 });
      const bad = await run('monte_carlo_pi', { samples: 1.5 }, runtime);
      expect([bad.exit_code, bad.stdout]).toEqual([2, expect.objectContaining({ error: 'invalid_input' })]);
    });

    it('text_stats: counts, sentences, keywords by count then word, stopwords out', async () => {
      const text =
        'The quick brown fox jumps over the lazy dog. The dog sleeps! Does the fox care? ' +
        'Foxes don’t care, the fox said… Café café CAFÉ 2024 2024';
      expect(await output('text_stats', { text, top: 4 }, runtime)).toEqual({
        word_count: 27,
        sentence_count: 5,
        character_count: [...text].length,
        unique_word_count: 16,
        top_keywords: [
          { word: 'café', count: 3 },
          { word: 'fox', count: 3 },
          { word: 'care', count: 2 },
          { word: 'dog', count: 2 },
        ],
      });
      expect(await output('text_stats', { text: '' }, runtime)).toEqual({
        word_count: 0,
        sentence_count: 0,
        character_count: 0,
        unique_word_count: 0,
        top_keywords: [],
      });
      expect(await output('text_stats', { text: 'No terminator anywhere' }, runtime)).toMatchObject({
        word_count: 3,
        sentence_count: 1,
        top_keywords: [
          { word: 'anywhere', count: 1 },
          { word: 'terminator', count: 1 },
        ],
      });
    });
  });

  it('the same inputs give the same stdout bytes on both runtimes and on a second run', async () => {
    const cases: [ProgramName, object][] = [
      ['expression', { expression: '(1/7)*3+0.25' }],
      ['monte_carlo_pi', { samples: 100_000, seed: 123 }],
      ['text_stats', { text: 'One fish. Two fish! Red fish, blue fish?' }],
    ];
    for (const [name, inputs] of cases) {
      const stdin = { program: name, ...inputs };
      const hashes = [
        (await run(name, stdin, 'v8')).output_hash,
        (await run(name, stdin, 'v8')).output_hash,
        (await run(name, stdin, 'wasmer')).output_hash,
      ];
      expect(new Set(hashes).size).toBe(1);
      expect(programNamed(name)).toBeDefined();
    }
    // Negative control: other inputs, another hash.
    const [x, y] = await Promise.all([
      run('expression', { program: 'expression', expression: '1+1' }),
      run('expression', { program: 'expression', expression: '1+2' }),
    ]);
    expect(x.output_hash).not.toBe(y.output_hash);
  });
});

/** The documented algorithm in plain JavaScript: SplitMix64-seeded xoshiro256**, 31-bit integer coordinates. */
function referenceInside(seed: bigint, samples: number): number {
  const M = (1n << 64n) - 1n;
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (64n - k))) & M;
  const splitmix = (state: bigint) => {
    let z = (state + 0x9e3779b97f4a7c15n) & M;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    return z ^ (z >> 31n);
  };
  const step = 0x9e3779b97f4a7c15n;
  let [s0, s1, s2, s3] = [0n, 1n, 2n, 3n].map((i) => splitmix((seed + i * step) & M));
  let inside = 0;
  for (let i = 0; i < samples; i++) {
    const r = (rotl((s1 * 5n) & M, 7n) * 9n) & M;
    const t = (s1 << 17n) & M;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 45n);
    const x = r >> 33n;
    const y = (r >> 2n) & 0x7fffffffn;
    if (x * x + y * y < 1n << 62n) inside++;
  }
  return inside;
}
