import { leb } from '../../bench/support/leb128';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nestedLoopsModule } from '../../bench/support/wasm-shapes';
import { checkModule } from './module-check';
import { StructuralLimits } from './wasm.config';
import { checkStructure, LimitExceededError } from './wasm-limits';

const limits: StructuralLimits = {
  maxFunctions: 100,
  maxFunctionBytes: 64 * 1024,
  maxLocals: 1000,
  maxNestingDepth: 64,
  maxLoopState: 10_000,
};

const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];

/** One exported function `() -> ()` with `locals` i32 locals and `code` as its body (before `end`). */
function moduleWith(code: number[], locals = 0): Uint8Array {
  const localDecl = locals ? [1, ...leb(locals), 0x7f] : [0];
  const body = [...localDecl, ...code, 0x0b];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 0, 0]),
    ...section(3, [1, 0]),
    ...section(7, [1, 6, ...Buffer.from('_start'), 0, 0]),
    ...section(10, [1, ...leb(body.length), ...body]),
  ]);
}

const violation = (bytes: Uint8Array, overrides: Partial<StructuralLimits> = {}) => {
  try {
    checkStructure(bytes, { ...limits, ...overrides });
    return null;
  } catch (error) {
    return error instanceof LimitExceededError ? error.variable : (error as Error).message;
  }
};

const loops = (n: number) => [
  ...Array<number[]>(n).fill([0x03, 0x40]).flat(),
  ...Array<number>(n).fill(0x0b),
];

describe('structural limits', () => {
  it('accepts every test fixture under the default-like limits', () => {
    const dir = join(__dirname, '..', '..', 'test', 'fixtures', 'wasm');
    const files = readdirSync(dir).filter((f) => f.endsWith('.wasm'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) expect([file, violation(readFileSync(join(dir, file)))]).toEqual([file, null]);
  });

  it('refuses nesting deeper than WASM_MAX_NESTING_DEPTH, and accepts it at the limit', () => {
    expect(violation(nestedLoopsModule({ depth: 64 }))).toBeNull();
    expect(violation(nestedLoopsModule({ depth: 65 }))).toBe('WASM_MAX_NESTING_DEPTH');
    // The shape, scaled down: a million nested loops is refused before anything else parses it.
    const bomb = nestedLoopsModule({ depth: 1_000_000 });
    expect(checkModule(bomb, { ...limits, maxFunctionBytes: 7_000_000 })).toEqual({
      ok: false,
      reason: expect.stringContaining('WASM_MAX_NESTING_DEPTH') as string,
    });
  });

  it('refuses a function body over WASM_MAX_FUNCTION_BYTES', () => {
    const loose = { maxLoopState: 1e9 };
    expect(violation(nestedLoopsModule({ depth: 10, groups: 2000 }), loose)).toBeNull(); // 60 KB
    expect(violation(nestedLoopsModule({ depth: 10, groups: 2200 }), loose)).toBe('WASM_MAX_FUNCTION_BYTES');
  });

  it('refuses more functions than WASM_MAX_FUNCTIONS', () => {
    expect(violation(nestedLoopsModule({ depth: 1, functions: 100 }))).toBeNull();
    expect(violation(nestedLoopsModule({ depth: 1, functions: 101 }))).toBe('WASM_MAX_FUNCTIONS');
  });

  it('refuses more locals than WASM_MAX_LOCALS', () => {
    expect(violation(moduleWith([], 1000))).toBeNull();
    expect(violation(moduleWith([], 1001))).toBe('WASM_MAX_LOCALS');
  });

  it('counts locals and stacked values at each loop toward WASM_MAX_LOOP_STATE', () => {
    // 10 loops over 950 locals: 10 × 951 fits; 11 loops do not.
    expect(violation(moduleWith(loops(10), 950))).toBeNull();
    expect(violation(moduleWith(loops(11), 950))).toBe('WASM_MAX_LOOP_STATE');
    // 500 values on the stack (i32.const 0) under 20 loops: 20 × 501 > 10 000; after dropping them, fine.
    const push = Array<number[]>(500).fill([0x41, 0]).flat();
    const drop = Array<number>(500).fill(0x1a);
    expect(violation(moduleWith([...push, ...loops(20), ...drop]))).toBe('WASM_MAX_LOOP_STATE');
    expect(violation(moduleWith([...push, ...drop, ...loops(20)]))).toBeNull();
  });

  it('refuses what it cannot read instead of guessing', () => {
    expect(violation(moduleWith([0xfb, 0x00]))).toMatch(/does not accept/); // a GC instruction
    const truncated = nestedLoopsModule({ depth: 3 }).subarray(0, 40);
    expect(checkModule(truncated, limits)).toEqual({
      ok: false,
      reason: expect.stringMatching(/^is not a valid WebAssembly module/) as string,
    });
  });
});
