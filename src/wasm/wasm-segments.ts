import { InvalidModuleError, kindOf, Reader, sections, skipImportDesc, WASM_PAGE_BYTES } from './wasm-binary';

export const DATA_OUT_OF_BOUNDS = 'data segment is out of bounds';
export const ELEMENT_OUT_OF_BOUNDS = 'element segment is out of bounds';
export const NO_SUCH_TABLE = 'element segment refers to a table the module does not have';
export const NO_SUCH_MEMORY = 'data segment refers to a memory the module does not have';

/**
 * Why instantiating the module would fail because an active segment does not fit where it is written: a data
 * segment past its memory's initial size, an element segment past its table's initial size (or naming a table
 * or memory that does not exist), where the binary tells it (offsets that are constants, or sums and products
 * of constants and constant globals); null when every segment fits or the binary cannot tell. V8 refuses such
 * a module at instantiation, but the wasmer SDK only fails later, in a thread of its own, and that failure
 * brought down the worker's whole SDK thread pool: it is refused before it runs (`verdict`).
 *
 * Meant for bytes WebAssembly.validate accepted, but reads hostile bytes safely: every loop consumes input,
 * so truncated sections, huge counts and overlong LEB128 end in null (nothing told), never in a hang or throw.
 */
export function segmentFault(bytes: Uint8Array): string | null {
  try {
    return firstFault(bytes);
  } catch (error) {
    // Malformed bytes are V8's validation's to refuse (it runs first); this check only tells what it read.
    if (error instanceof Unreadable || error instanceof InvalidModuleError) return null;
    throw error;
  }
}

/** An expression or type this check does not read: it cannot tell, so it tells nothing. */
class Unreadable extends Error {}

/** The initial size of each memory (bytes) or table (elements), imported ones first; null: imported. */
type Sizes = (number | null)[];

function firstFault(bytes: Uint8Array): string | null {
  const memories: Sizes = [];
  const tables: Sizes = [];
  /** Value of each i32 global whose initializer is a constant (null: anything else). */
  const globals: (number | null)[] = [];
  for (const s of sections(bytes)) {
    const r = new Reader(bytes, s.contentStart, s.end);
    if (s.id === 2) readImports(r, memories, tables, globals);
    else if (s.id === 4) {
      for (let n = r.u32(); n > 0; n--) tables.push(tableSize(r));
    } else if (s.id === 5) {
      for (let n = r.u32(); n > 0; n--) memories.push(Number(r.limits().min) * WASM_PAGE_BYTES);
    } else if (s.id === 6) {
      for (let n = r.u32(); n > 0; n--) {
        const type = r.byte();
        if (type === 0x63 || type === 0x64) throw new Unreadable(); // typed references
        r.byte(); // mutability
        const value = constant(r, globals);
        globals.push(type === 0x7f ? value : null);
      }
    } else if (s.id === 9) {
      const fault = elementFault(r, tables, globals);
      if (fault !== null) return fault;
    } else if (s.id === 11) {
      const fault = dataFault(r, memories, globals);
      if (fault !== null) return fault;
    }
  }
  return null;
}

/** A table's initial size; tables with an initializer or of typed references are not read. */
function tableSize(r: Reader): number {
  const type = r.byte();
  if (type === 0x40 || type === 0x63 || type === 0x64) throw new Unreadable();
  return Number(r.limits().min);
}

function elementFault(r: Reader, tables: Sizes, globals: (number | null)[]): string | null {
  for (let n = r.u32(); n > 0; n--) {
    // Bit 0: passive or declarative; bit 1: a table index (active) or declarative; bit 2: expressions.
    const flags = r.u32();
    if (flags > 7) throw new Unreadable();
    const active = (flags & 1) === 0;
    const table = active && flags & 2 ? r.u32() : 0;
    const offset = active ? constant(r, globals) : null;
    if (flags & 3) {
      const kind = r.byte(); // elemkind (0x00: funcref) or reference type
      if (kind === 0x63 || kind === 0x64) throw new Unreadable();
    }
    const count = r.u32();
    for (let i = 0; i < count; i++) {
      if (flags & 4) constant(r, globals);
      else skipU32(r);
    }
    if (!active) continue; // copied only by table.init, which traps by itself
    const fault = outOfBounds(tables, table, offset, count);
    if (fault === 'absent') return NO_SUCH_TABLE;
    if (fault) return ELEMENT_OUT_OF_BOUNDS;
  }
  return null;
}

function dataFault(r: Reader, memories: Sizes, globals: (number | null)[]): string | null {
  for (let n = r.u32(); n > 0; n--) {
    const flags = r.u32();
    if (flags === 1) {
      r.skip(r.u32()); // passive: copied only by memory.init, which traps by itself
      continue;
    }
    if (flags !== 0 && flags !== 2) throw new Unreadable();
    const memory = flags === 2 ? r.u32() : 0;
    const offset = constant(r, globals);
    const length = r.u32();
    r.skip(length);
    const fault = outOfBounds(memories, memory, offset, length);
    if (fault === 'absent') return NO_SUCH_MEMORY;
    if (fault) return DATA_OUT_OF_BOUNDS;
  }
  return null;
}

/** Whether `length` items written at `offset` overrun the initial size of `sizes[index]` (false: can't tell). */
function outOfBounds(sizes: Sizes, index: number, offset: number | null, length: number): boolean | 'absent' {
  if (index >= sizes.length) return 'absent';
  const size = sizes[index];
  // A segment of length 0 past the end still traps: instantiation checks offset + length ≤ size.
  return offset !== null && size !== null && offset + length > size;
}

function readImports(r: Reader, memories: Sizes, tables: Sizes, globals: (number | null)[]): void {
  for (let n = r.u32(); n > 0; n--) {
    // Skipped, not decoded: a name that is not UTF-8 is V8's to refuse.
    r.skip(r.u32());
    r.skip(r.u32());
    const kind = kindOf(r.byte());
    skipImportDesc(r, kind);
    // Imported: their size or value is not in the binary (the import may be larger).
    if (kind === 'memory') memories.push(null);
    else if (kind === 'table') tables.push(null);
    else if (kind === 'global') globals.push(null);
  }
}

/**
 * Evaluates a constant expression up to its `end`: i32 constants, constant globals and the extended-const
 * i32 add/sub/mul, wrapping as wasm does. Null for anything else (it is read to its end all the same).
 */
function constant(r: Reader, globals: (number | null)[]): number | null {
  const stack: (number | null)[] = [];
  for (;;) {
    const op = r.byte();
    if (op === 0x0b) break;
    if (op === 0x41) stack.push(r.i32());
    else if (op === 0x23) stack.push(globals[r.u32()] ?? null);
    else if (op >= 0x6a && op <= 0x6c) {
      const b = stack.pop() ?? null;
      const a = stack.pop() ?? null;
      stack.push(a === null || b === null ? null : arithmetic(op, a, b));
    } else {
      stack.push(null);
      // Constants that are no i32 offset: read past them (an immediate may hold the byte 0x0b).
      if (op === 0x42) r.leb(64);
      else if (op === 0x43) r.skip(4);
      else if (op === 0x44) r.skip(8);
      else if (op === 0xd0) {
        // ref.null of an abstract heap type (one byte); a type index of more than one byte is not read.
        if (r.byte() & 0x80) throw new Unreadable();
      } else if (op === 0xd2)
        r.u32(); // ref.func
      else throw new Unreadable();
    }
  }
  return stack.length === 1 ? stack[0] : null;
}

/** Reads past a function index without decoding it: a segment may list millions. */
function skipU32(r: Reader): void {
  for (let i = 0; i < 5; i++) if ((r.byte() & 0x80) === 0) return;
  throw new InvalidModuleError('malformed LEB128 integer');
}

function arithmetic(op: number, a: number, b: number): number {
  if (op === 0x6a) return (a + b) >>> 0;
  if (op === 0x6b) return (a - b) >>> 0;
  return Math.imul(a, b) >>> 0;
}
