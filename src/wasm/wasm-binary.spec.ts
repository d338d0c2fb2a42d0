import { leb, name, section, WASM_HEADER } from '../../test/support/wasm-encoding';
import {
  capModule,
  hasStartFunction,
  InvalidModuleError,
  MAX_TABLE_ELEMENTS,
  summarize,
  WASM_PAGE_BYTES,
} from './wasm-binary';

const HEADER = WASM_HEADER;

/** A module with one memory (flags, min, max) defined or imported, exported as "memory". */
function moduleWithMemory(flags: number, min: number, max: number | null, imported = false): Uint8Array {
  const limits = [flags, ...leb(min), ...(max === null ? [] : leb(max))];
  const memory = imported
    ? section(2, [1, ...name('wasi_snapshot_preview1'), ...name('memory'), 0x02, ...limits])
    : section(5, [1, ...limits]);
  const exports = section(7, [1, ...name('memory'), 0x02, 0x00]);
  return new Uint8Array([...HEADER, ...memory, ...exports]);
}

/** The limits of the first memory of a module, read back through V8. */
function memoryLimitsOf(bytes: Uint8Array): { min: number; max: number | undefined } {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
  const memory = instance.exports.memory as WebAssembly.Memory;
  const min = memory.buffer.byteLength / WASM_PAGE_BYTES;
  let max = min;
  try {
    while (max < 70_000) {
      memory.grow(1);
      max++;
    }
  } catch {
    return { min, max };
  }
  return { min, max: undefined };
}

const CAP = 8 * WASM_PAGE_BYTES; // 8 pages

/** A module defining funcref tables of these [initial, maximum] sizes, each exported as "t<i>". */
function moduleWithTables(tables: [number, number | null][]): Uint8Array {
  const entries = tables.map(([min, max]) => [
    0x70,
    ...(max === null ? [0x00, ...leb(min)] : [0x01, ...leb(min), ...leb(max)]),
  ]);
  const exports = tables.map((_, i) => [...name(`t${i}`), 0x01, ...leb(i)]);
  return new Uint8Array([
    ...HEADER,
    ...section(4, [...leb(tables.length), ...entries.flat()]),
    ...section(7, [...leb(tables.length), ...exports.flat()]),
  ]);
}

/** Each exported table's initial size and its maximum, found by growing it (undefined: past 1 M more). */
function tableLimitsOf(bytes: Uint8Array): { initial: number; max: number | undefined }[] {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
  return Object.values(instance.exports).map((exported) => {
    const table = exported as WebAssembly.Table;
    const initial = table.length;
    try {
      table.grow(MAX_TABLE_ELEMENTS + 1 - initial);
      return { initial, max: undefined };
    } catch {
      let max = initial;
      for (let step = 2 ** 20; step >= 1; step /= 2) {
        try {
          table.grow(step);
          max += step;
        } catch {
          // past its maximum: try a smaller step
        }
      }
      return { initial, max };
    }
  });
}

describe('capModule', () => {
  it('adds a maximum equal to the cap when the module has none', () => {
    const sut = capModule(moduleWithMemory(0x00, 1, null), CAP);
    expect(WebAssembly.validate(sut)).toBe(true);
    expect(memoryLimitsOf(sut)).toEqual({ min: 1, max: 8 });
  });

  it('lowers a maximum above the cap, keeps one below it', () => {
    expect(memoryLimitsOf(capModule(moduleWithMemory(0x01, 2, 60_000), CAP))).toEqual({ min: 2, max: 8 });
    expect(memoryLimitsOf(capModule(moduleWithMemory(0x01, 2, 4), CAP))).toEqual({ min: 2, max: 4 });
  });

  it('accepts an initial size equal to the cap and refuses one above it', () => {
    expect(memoryLimitsOf(capModule(moduleWithMemory(0x00, 8, null), CAP))).toEqual({ min: 8, max: 8 });
    expect(() => capModule(moduleWithMemory(0x00, 9, null), CAP)).toThrow(
      new InvalidModuleError('initial memory exceeds the memory limit'),
    );
  });

  it('rewrites imported memories too', () => {
    const sut = capModule(moduleWithMemory(0x00, 1, null, true), CAP);
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(sut));
    expect(imports).toEqual([{ module: 'wasi_snapshot_preview1', name: 'memory', kind: 'memory' }]);
    // Instantiating with a memory whose maximum exceeds the rewritten one fails to link: the cap is in force.
    const tooBig = new WebAssembly.Memory({ initial: 1, maximum: 100 });
    expect(
      () =>
        new WebAssembly.Instance(new WebAssembly.Module(sut), { wasi_snapshot_preview1: { memory: tooBig } }),
    ).toThrow(WebAssembly.LinkError);
  });

  it.each([
    ['shared', 0x03, 'shared memories are not allowed'],
    ['64-bit', 0x04, '64-bit memories are not allowed'],
    ['64-bit with max', 0x05, '64-bit memories are not allowed'],
    ['unknown flags', 0x08, 'unsupported memory limits'],
  ])('refuses %s memories', (_label, flags, reason) => {
    expect(() => capModule(moduleWithMemory(flags, 1, flags & 1 ? 4 : null), CAP)).toThrow(
      new InvalidModuleError(reason),
    );
  });

  it('leaves a module without memory byte-identical', () => {
    const bytes = new Uint8Array([...HEADER, ...section(1, [1, 0x60, 0, 0])]);
    expect(capModule(bytes, CAP)).toEqual(bytes);
  });

  it(`holds the tables to ${MAX_TABLE_ELEMENTS} elements in all: initial sizes past it refused, maxima lowered`, () => {
    expect(tableLimitsOf(capModule(moduleWithTables([[1, null]]), CAP))).toEqual([
      { initial: 1, max: MAX_TABLE_ELEMENTS },
    ]);
    // The room the initial sizes leave goes to the first tables that can grow; a lower maximum is kept.
    expect(
      tableLimitsOf(
        capModule(
          moduleWithTables([
            [10, 20],
            [400_000, null],
            [500_000, null],
          ]),
          CAP,
        ),
      ),
    ).toEqual([
      { initial: 10, max: 20 },
      { initial: 400_000, max: 499_980 },
      { initial: 500_000, max: 500_000 },
    ]);
    expect(() =>
      capModule(
        moduleWithTables([
          [600_000, null],
          [400_001, null],
        ]),
        CAP,
      ),
    ).toThrow(
      new InvalidModuleError(`tables of more than ${MAX_TABLE_ELEMENTS} elements in all are not allowed`),
    );
    // Negative control: without the cap, V8 would let the table grow to its own limit (10 M).
    expect(tableLimitsOf(moduleWithTables([[1, null]]))).toEqual([{ initial: 1, max: undefined }]);
  });

  it('refuses non-wasm and truncated input', () => {
    expect(() => capModule(Buffer.from('not wasm at all'), CAP)).toThrow(InvalidModuleError);
    expect(() => capModule(moduleWithMemory(0x00, 1, null).subarray(0, 12), CAP)).toThrow(InvalidModuleError);
  });
});

describe('summarize', () => {
  it('lists imports and exports with their kinds', () => {
    const bytes = new Uint8Array([
      ...HEADER,
      ...section(1, [1, 0x60, 0, 0]),
      ...section(2, [1, ...name('wasi_snapshot_preview1'), ...name('proc_exit'), 0x00, 0x00]),
      ...section(5, [1, 0x00, 1]),
      ...section(7, [1, ...name('memory'), 0x02, 0x00]),
    ]);
    expect(WebAssembly.validate(bytes)).toBe(true);
    expect(summarize(bytes)).toEqual({
      imports: [{ module: 'wasi_snapshot_preview1', name: 'proc_exit', kind: 'function' }],
      exports: [{ name: 'memory', kind: 'memory' }],
    });
  });
});

describe('hasStartFunction', () => {
  const withFunction = (start: boolean) =>
    new Uint8Array([
      ...HEADER,
      ...section(1, [1, 0x60, 0, 0]),
      ...section(3, [1, 0]),
      ...(start ? section(8, [0]) : []),
      ...section(10, [1, 2, 0, 0x0b]),
    ]);

  it('tells a module with a start function (guest code run by instantiation) from one without', () => {
    expect(WebAssembly.validate(withFunction(true))).toBe(true);
    expect(hasStartFunction(withFunction(true))).toBe(true);
    expect(hasStartFunction(withFunction(false))).toBe(false);
  });
});
