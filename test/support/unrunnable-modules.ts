import { name, section, WASM_HEADER } from './wasm-encoding';

/** Valid WebAssembly that no runtime can start as it is: each one fails only at instantiation. */
const wasmModule = (...sections: number[][]) => new Uint8Array([...WASM_HEADER, ...sections.flat()]);
const TYPE_VOID = section(1, [1, 0x60, 0, 0]);
const ONE_PAGE = section(5, [1, 0x00, 1]);
const EXPORTS = section(7, [2, ...name('memory'), 0x02, 0, ...name('_start'), 0x00, 0]);

/** `(module (func (export "_start")))`: no memory. */
export const NO_MEMORY = wasmModule(
  TYPE_VOID,
  section(3, [1, 0]),
  section(7, [1, ...name('_start'), 0x00, 0]),
  section(10, [1, 2, 0, 0x0b]),
);
/** One page of memory and a data segment at 0x11170 (past its 64 KiB). */
export const DATA_OUT_OF_BOUNDS = wasmModule(
  TYPE_VOID,
  section(3, [1, 0]),
  ONE_PAGE,
  EXPORTS,
  section(12, [1]),
  section(10, [1, 2, 0, 0x0b]),
  section(11, [1, 0x00, 0x41, 0xf0, 0xa2, 0x04, 0x0b, 3, ...Buffer.from('abc')]),
);
/** A table of one element and an element segment writing one function at index 1 (past its end). */
export const ELEMENT_OUT_OF_BOUNDS = wasmModule(
  TYPE_VOID,
  section(3, [1, 0]),
  section(4, [1, 0x70, 0x00, 1]),
  ONE_PAGE,
  EXPORTS,
  section(9, [1, 0x00, 0x41, 1, 0x0b, 1, 0]),
  section(10, [1, 2, 0, 0x0b]),
);
/** A valid module whose start function traps: only running it can tell (a `trap`: see wasm-start.ts). */
export const START_TRAPS = wasmModule(
  TYPE_VOID,
  section(3, [2, 0, 0]),
  ONE_PAGE,
  section(7, [2, ...name('memory'), 0x02, 0, ...name('_start'), 0x00, 1]),
  section(8, [0]),
  section(10, [2, 3, 0, 0x00, 0x0b, 2, 0, 0x0b]),
);
