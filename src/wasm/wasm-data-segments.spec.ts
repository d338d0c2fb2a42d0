import { leb, name, section, WASM_HEADER } from '../../test/support/wasm-encoding';
import { dataSegmentFault } from './wasm-data-segments';

const i32 = (n: number) => {
  // Signed LEB128.
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const I32_CONST = 0x41;
const GLOBAL_GET = 0x23;
const I32_ADD = 0x6a;

/** One memory of `pages` (or an imported one), globals `(i32 const)` and one data segment. */
function withSegment(
  offset: number[],
  length: number,
  { pages = 1, globals = [] as number[][], imported = false, flags = 0, extendedConst = false } = {},
): Uint8Array {
  const memory = imported
    ? section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, ...leb(pages)])
    : section(5, [1, 0x00, ...leb(pages)]);
  const globalSection = globals.length
    ? section(6, [globals.length, ...globals.flatMap((init) => [0x7f, 0x00, ...init, 0x0b])])
    : [];
  const segment =
    flags === 1
      ? [1, ...leb(length), ...new Array<number>(length).fill(7)]
      : [0, ...offset, 0x0b, ...leb(length), ...new Array<number>(length).fill(7)];
  const bytes = new Uint8Array([
    ...WASM_HEADER,
    ...memory,
    ...globalSection,
    ...section(11, [1, ...segment]),
  ]);
  // Node 20's V8 allows neither extended-const nor global.get of a global the module defines (later ones do).
  if (!extendedConst) expect(WebAssembly.validate(bytes)).toBe(true);
  return bytes;
}

describe('dataSegmentFault', () => {
  const PAGE = 65536;

  it('tells a segment past its memory’s initial size, and lets one that ends at it be', () => {
    expect(dataSegmentFault(withSegment([I32_CONST, ...i32(PAGE - 3)], 3))).toBeNull();
    expect(dataSegmentFault(withSegment([I32_CONST, ...i32(PAGE - 2)], 3))).toBe(
      'data segment is out of bounds',
    );
    expect(dataSegmentFault(withSegment([I32_CONST, ...i32(PAGE)], 0))).toBeNull();
    expect(dataSegmentFault(withSegment([I32_CONST, ...i32(PAGE * 2 - 1)], 1, { pages: 2 }))).toBeNull();
  });

  it('reads a negative offset as the unsigned address it is', () => {
    expect(dataSegmentFault(withSegment([I32_CONST, ...i32(-1)], 1))).toBe('data segment is out of bounds');
  });

  it('evaluates constant globals and extended-const arithmetic', () => {
    const globals = [[I32_CONST, ...i32(PAGE - 1)]];
    expect(dataSegmentFault(withSegment([GLOBAL_GET, 0], 1, { globals, extendedConst: true }))).toBeNull();
    expect(dataSegmentFault(withSegment([GLOBAL_GET, 0], 2, { globals, extendedConst: true }))).toBe(
      'data segment is out of bounds',
    );
    const sum = [I32_CONST, ...i32(PAGE - 8), I32_CONST, ...i32(8), I32_ADD];
    expect(dataSegmentFault(withSegment(sum, 1, { extendedConst: true }))).toBe(
      'data segment is out of bounds',
    );
  });

  it('says nothing where the binary cannot tell: an imported memory (possibly larger), a passive segment', () => {
    expect(dataSegmentFault(withSegment([I32_CONST, ...i32(PAGE)], 3, { imported: true }))).toBeNull();
    expect(dataSegmentFault(withSegment([], 3, { flags: 1 }))).toBeNull();
  });
});
