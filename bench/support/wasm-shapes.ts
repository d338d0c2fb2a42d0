/**
 * Hostile module shapes of issue 13 row 1, built byte by byte (for the tests and bench:abuse): a WASI command
 * whose `_start` is `groups` runs of `depth` nested `loop` blocks, repeated over `functions` functions (the
 * last one exported as `_start`). The reported module was depth 2.5 M, one group, one function (7.5 MB).
 */
import { leb } from './leb128';
const section = (id: number, body: Buffer) => Buffer.concat([Buffer.from([id, ...leb(body.length)]), body]);
const name = (s: string) => Buffer.from([...leb(s.length), ...Buffer.from(s)]);

export interface NestedLoopsShape {
  depth: number;
  groups?: number;
  functions?: number;
}

export function nestedLoopsModule({ depth, groups = 1, functions = 1 }: NestedLoopsShape): Buffer {
  const opens = Buffer.alloc(depth * 2);
  for (let i = 0; i < depth; i++) opens.set([0x03, 0x40], i * 2); // loop (empty block type)
  const group = Buffer.concat([opens, Buffer.alloc(depth, 0x0b)]); // … end
  const code = Buffer.concat([
    Buffer.from([0x00]),
    ...Array<Buffer>(groups).fill(group),
    Buffer.from([0x0b]),
  ]);
  const body = Buffer.concat([Buffer.from(leb(code.length)), code]);
  return Buffer.concat([
    Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]),
    section(1, Buffer.from([1, 0x60, 0, 0])), // one type: [] -> []
    section(3, Buffer.from([...leb(functions), ...Array<number>(functions).fill(0)])),
    section(5, Buffer.from([1, 0x00, 1])), // one page of memory
    section(
      7,
      Buffer.concat([
        Buffer.from([2]),
        name('_start'),
        Buffer.from([0x00, ...leb(functions - 1)]),
        name('memory'),
        Buffer.from([0x02, 0]),
      ]),
    ),
    section(10, Buffer.concat([Buffer.from(leb(functions)), ...Array<Buffer>(functions).fill(body)])),
  ]);
}

/**
 * The largest module of that shape the limits allow: nests at `maxNestingDepth`, each function filled to
 * `maxFunctionBytes` (and within `maxLoopState`), as many functions as fit in `maxModuleBytes`.
 */
export function largestNestedLoopsModule(limits: {
  maxNestingDepth: number;
  maxFunctionBytes: number;
  maxLoopState: number;
  maxModuleBytes: number;
}): { bytes: Buffer; shape: Required<NestedLoopsShape> } {
  const depth = limits.maxNestingDepth;
  // A loop with no locals and an empty stack counts 1 toward the loop state.
  const groups = Math.max(
    1,
    Math.min(
      Math.floor((limits.maxFunctionBytes - 8) / (depth * 3)),
      Math.floor(limits.maxLoopState / depth),
    ),
  );
  const functionBytes = depth * 3 * groups + 8;
  const functions = Math.max(1, Math.floor((limits.maxModuleBytes - 128) / functionBytes));
  const shape = { depth, groups, functions };
  return { bytes: nestedLoopsModule(shape), shape };
}
