import { leb, name, section, WASM_HEADER } from '../../test/support/wasm-encoding';
import { capMemory, hasStartFunction, InvalidModuleError, summarize, WASM_PAGE_BYTES } from './wasm-binary';

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

describe('capMemory', () => {
  it('adds a maximum equal to the cap when the module has none', () => {
    const sut = capMemory(moduleWithMemory(0x00, 1, null), CAP);
    expect(WebAssembly.validate(sut)).toBe(true);
    expect(memoryLimitsOf(sut)).toEqual({ min: 1, max: 8 });
  });

  it('lowers a maximum above the cap, keeps one below it', () => {
    expect(memoryLimitsOf(capMemory(moduleWithMemory(0x01, 2, 60_000), CAP))).toEqual({ min: 2, max: 8 });
    expect(memoryLimitsOf(capMemory(moduleWithMemory(0x01, 2, 4), CAP))).toEqual({ min: 2, max: 4 });
  });

  it('accepts an initial size equal to the cap and refuses one above it', () => {
    expect(memoryLimitsOf(capMemory(moduleWithMemory(0x00, 8, null), CAP))).toEqual({ min: 8, max: 8 });
    expect(() => capMemory(moduleWithMemory(0x00, 9, null), CAP)).toThrow(
      new InvalidModuleError('initial memory exceeds the memory limit'),
    );
  });

  it('rewrites imported memories too', () => {
    const sut = capMemory(moduleWithMemory(0x00, 1, null, true), CAP);
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
    expect(() => capMemory(moduleWithMemory(flags, 1, flags & 1 ? 4 : null), CAP)).toThrow(
      new InvalidModuleError(reason),
    );
  });

  it('leaves a module without memory byte-identical', () => {
    const bytes = new Uint8Array([...HEADER, ...section(1, [1, 0x60, 0, 0])]);
    expect(capMemory(bytes, CAP)).toEqual(bytes);
  });

  it('refuses non-wasm and truncated input', () => {
    expect(() => capMemory(Buffer.from('not wasm at all'), CAP)).toThrow(InvalidModuleError);
    expect(() => capMemory(moduleWithMemory(0x00, 1, null).subarray(0, 12), CAP)).toThrow(InvalidModuleError);
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
