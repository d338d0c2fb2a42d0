import { name, section, WASM_HEADER } from '../../test/support/wasm-encoding';
import { START_TRAPS } from '../../test/support/unrunnable-modules';
import { hasStartFunction } from './wasm-binary';
import { deferStart } from './wasm-start';

const wasmModule = (...sections: number[][]) => new Uint8Array([...WASM_HEADER, ...sections.flat()]);
const TYPES = section(1, [2, 0x60, 0, 0, 0x60, 1, 0x7f, 0]); // 0: [] -> [], 1: [i32] -> []
const ONE_PAGE = section(5, [1, 0x00, 1]);
const I32_CONST = 0x41;
const I32_STORE8 = 0x3a;
const I32_LOAD8_U = 0x2d;

/**
 * Function 0 (the start function) stores 7 at address 0; function 1 (`_start`, of type `startType`) traps
 * unless address 0 holds 7. `start` false: no start section.
 */
function storeThenCheck({ start = true, startType = 0 } = {}): Uint8Array {
  const store = [0, I32_CONST, 0, I32_CONST, 7, I32_STORE8, 0, 0, 0x0b];
  const check = [0, I32_CONST, 0, I32_LOAD8_U, 0, 0, I32_CONST, 7, 0x47, 0x04, 0x40, 0x00, 0x0b, 0x0b];
  return wasmModule(
    TYPES,
    section(3, [2, 0, startType]),
    ONE_PAGE,
    section(7, [2, ...name('memory'), 0x02, 0, ...name('_start'), 0x00, 1]),
    start ? section(8, [0]) : [],
    section(10, [2, store.length, ...store, check.length, ...check]),
  );
}

const instantiate = (bytes: Uint8Array) =>
  new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
const memoryAt0 = (instance: WebAssembly.Instance) =>
  new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer)[0];

describe('deferStart', () => {
  it('turns a start function that traps at instantiation into a trap of _start', () => {
    expect(() => instantiate(START_TRAPS)).toThrow(WebAssembly.RuntimeError);
    const sut = deferStart(START_TRAPS);
    expect(WebAssembly.validate(sut)).toBe(true);
    expect(hasStartFunction(sut)).toBe(false);
    const instance = instantiate(sut);
    expect(() => (instance.exports._start as () => void)()).toThrow(
      new WebAssembly.RuntimeError('unreachable'),
    );
  });

  it('runs the start function first thing in _start, and then the old _start: the same effects in the same order', () => {
    const original = instantiate(storeThenCheck());
    expect(memoryAt0(original)).toBe(7);
    (original.exports._start as () => void)();

    const deferred = instantiate(deferStart(storeThenCheck()));
    expect(memoryAt0(deferred)).toBe(0); // instantiating ran nothing
    (deferred.exports._start as () => void)(); // would trap if the start function had not run before it
    expect(memoryAt0(deferred)).toBe(7);
    expect(
      WebAssembly.Module.exports(
        new WebAssembly.Module(deferStart(storeThenCheck()) as Uint8Array<ArrayBuffer>),
      ),
    ).toEqual(
      WebAssembly.Module.exports(new WebAssembly.Module(storeThenCheck() as Uint8Array<ArrayBuffer>)),
    );
  });

  it('leaves bytes it need not or cannot rewrite as they are', () => {
    for (const bytes of [
      storeThenCheck({ start: false }), // no start section
      storeThenCheck({ startType: 1 }), // _start takes a parameter: a wrapper could not call it
      wasmModule(TYPES, section(3, [1, 0]), section(8, [0]), section(10, [1, 2, 0, 0x0b])), // no _start
    ]) {
      expect(deferStart(bytes)).toBe(bytes);
    }
  });

  it.each([
    ['truncated', START_TRAPS.subarray(0, START_TRAPS.length - 3)],
    [
      'a code section that is short of a body',
      wasmModule(
        TYPES,
        section(3, [2, 0, 0]),
        section(7, [1, ...name('_start'), 0x00, 1]),
        section(8, [0]),
        section(10, [1, 2, 0, 0x0b]),
      ),
    ],
    [
      'an overlong start index',
      wasmModule(
        TYPES,
        section(3, [1, 0]),
        section(7, [1, ...name('_start'), 0x00, 0]),
        section(8, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        section(10, [1, 2, 0, 0x0b]),
      ),
    ],
    [
      'a type that is not a function type',
      wasmModule(
        section(1, [1, 0x5f, 0]),
        section(3, [1, 0]),
        section(7, [1, ...name('_start'), 0x00, 0]),
        section(8, [0]),
        section(10, [1, 2, 0, 0x0b]),
      ),
    ],
  ])('leaves hostile bytes as they are: %s', (_label, bytes) => {
    expect(deferStart(bytes)).toBe(bytes);
  });
});
